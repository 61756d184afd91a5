import com.sun.tools.attach.VirtualMachine;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

/**
 * Reads the Kafka broker's own request and record counters over JMX.
 *
 * <p>Attaches to the broker's JVM by process id (the JDK's attach API, as jconsole does for a
 * local process), starts its local management agent, and then prints one JSON line of
 * cumulative counts for every line read from stdin, until stdin closes.
 *
 * <p>Run: {@code java bench/java/BrokerCounters.java <broker pid>}
 */
public final class BrokerCounters {
    private static final String[][] COUNTERS = {
        {"produce_requests", "kafka.network:type=RequestMetrics,name=RequestsPerSec,request=Produce,*"},
        {"fetch_requests", "kafka.network:type=RequestMetrics,name=RequestsPerSec,request=Fetch,*"},
        {"records_in", "kafka.server:type=BrokerTopicMetrics,name=MessagesInPerSec"},
        {"bytes_in", "kafka.server:type=BrokerTopicMetrics,name=BytesInPerSec"},
        {"bytes_out", "kafka.server:type=BrokerTopicMetrics,name=BytesOutPerSec"},
    };

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: java BrokerCounters.java <broker pid>");
            System.exit(2);
        }
        VirtualMachine vm = VirtualMachine.attach(args[0]);
        String address;
        try {
            address = vm.startLocalManagementAgent();
        } finally {
            vm.detach();
        }
        try (JMXConnector connector = JMXConnectorFactory.connect(new JMXServiceURL(address))) {
            MBeanServerConnection server = connector.getMBeanServerConnection();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
            System.out.println("ready");
            System.out.flush();
            while (in.readLine() != null) {
                StringBuilder line = new StringBuilder("{");
                for (int i = 0; i < COUNTERS.length; i++) {
                    long total = 0;
                    for (ObjectName name : server.queryNames(new ObjectName(COUNTERS[i][1]), null)) {
                        total += ((Number) server.getAttribute(name, "Count")).longValue();
                    }
                    line.append(i == 0 ? "" : ", ").append('"').append(COUNTERS[i][0]).append("\": ").append(total);
                }
                System.out.println(line.append('}'));
                System.out.flush();
            }
        }
    }
}
