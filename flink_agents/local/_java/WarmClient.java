import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.python.shaded.py4j.Gateway;
import org.apache.flink.api.python.shaded.py4j.GatewayServer;
import org.apache.flink.client.program.StreamContextEnvironment;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.DeploymentOptions;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.core.execution.DefaultExecutorServiceLoader;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.JobListener;

/**
 * The local stack's warm client: one long-lived JVM serving PyFlink's Py4J gateway.
 *
 * <p>A job file run with {@code PYFLINK_GATEWAY_PORT} set to this JVM's port builds its job
 * here instead of in a fresh {@code flink run} JVM, so class loading and the planner's
 * just-in-time compilation are paid once per stack, not once per submission.
 *
 * <p>The gateway is started the way PyFlink's own {@code PythonGatewayServer} starts it
 * ({@code PythonEnvUtils.startGatewayServer}), but this JVM does not exit when a Python client
 * goes away: it lives until it is stopped. Before each job, the submitting process calls
 * {@link #prepare(Map)} with that job's options: the context environment that {@code
 * StreamExecutionEnvironment.getExecutionEnvironment} returns is then the one {@code flink run}
 * gives a job (the cluster's config.yaml, detached, {@code execution.target: remote}), and
 * {@link #submittedJob()} answers the id of the job it submitted. Submissions are serialised
 * by the caller (Py4J has one callback client, which each PyFlink client resets to itself).
 *
 * <p>Arguments: the cluster's configuration folder and the file to write the gateway's port to.
 */
public final class WarmClient {
    /** The key of this object in the gateway's entry point (a map). */
    static final String ENTRY = "FlinkAgentsWarmClient";

    private static final AtomicReference<String> SUBMITTED = new AtomicReference<>();

    private final String confDir;
    private final Gateway gateway;

    private WarmClient(String confDir, Gateway gateway) {
        this.confDir = confDir;
        this.gateway = gateway;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: WarmClient CONF_DIR PORT_FILE");
            System.exit(2);
        }
        Class<?> utils = Class.forName("org.apache.flink.client.python.PythonEnvUtils");
        Method start = utils.getDeclaredMethod("startGatewayServer");
        start.setAccessible(true);
        GatewayServer server = (GatewayServer) start.invoke(null);
        Method register = utils.getDeclaredMethod("setGatewayServer", GatewayServer.class);
        register.setAccessible(true);
        register.invoke(null, server);

        WarmClient client = new WarmClient(args[0], server.getGateway());
        client.prepare(Map.of());
        @SuppressWarnings("unchecked")
        Map<String, Object> entry = (Map<String, Object>) server.getGateway().getEntryPoint();
        entry.put(ENTRY, client);

        Path portFile = Paths.get(args[1]);
        Path written = portFile.resolveSibling(portFile.getFileName() + ".tmp");
        Files.writeString(written, server.getListeningPort() + "\n");
        Files.move(written, portFile, StandardCopyOption.ATOMIC_MOVE);
        System.out.println("warm client: gateway on port " + server.getListeningPort());
        new CountDownLatch(1).await(); // the gateway's threads are daemons: live until stopped
    }

    /**
     * Make the next job's environment: the cluster's configuration, detached, with {@code
     * options} (per job: savepoint to resume from, ...) on top.
     */
    public synchronized void prepare(Map<String, String> options) {
        forgetObjects();
        Configuration conf = GlobalConfiguration.loadConfiguration(confDir);
        conf.set(DeploymentOptions.TARGET, "remote");
        conf.set(DeploymentOptions.ATTACHED, false);
        options.forEach(conf::setString);
        conf.set(DeploymentOptions.JOB_LISTENERS, List.of(Submitted.class.getName()));
        SUBMITTED.set(null);
        StreamContextEnvironment.unsetAsContext();
        StreamContextEnvironment.setAsContext(
                new DefaultExecutorServiceLoader(),
                conf,
                WarmClient.class.getClassLoader(),
                false,
                true);
    }

    /** The id of the first job submitted since {@link #prepare(Map)}, or null. */
    public String submittedJob() {
        return SUBMITTED.get();
    }

    /**
     * Drop the objects earlier Python clients left in the gateway: a client that exits does
     * not release them, and a JVM that serves many jobs would keep every one's environment.
     */
    private void forgetObjects() {
        gateway.getBindings().entrySet().removeIf(e -> e.getKey().startsWith("o") && e.getValue() != this);
    }

    /** Records the id of the job a context environment submitted. */
    public static final class Submitted implements JobListener {
        @Override
        public void onJobSubmitted(JobClient client, Throwable failure) {
            if (client != null) {
                String id = client.getJobID().toHexString();
                SUBMITTED.compareAndSet(null, id);
                System.out.println("warm client: submitted job " + id);
            }
        }

        @Override
        public void onJobExecuted(JobExecutionResult result, Throwable failure) {}
    }
}
