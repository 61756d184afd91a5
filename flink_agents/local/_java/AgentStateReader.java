/*
 * Reads one conversation key's agent state from a Flink savepoint, for
 * `flink-agents state inspect` (flink_agents/local/_inspect.py compiles and runs it).
 *
 *   java -cp <Flink's lib>:<flink-state-processor-api>:<this class> AgentStateReader \
 *       SAVEPOINT KEY AGENT|- APP|-
 *
 * It prints one JSON document on stdout: for each agent operator (uid "agents:<app>") the
 * agents whose state it holds, how many keys each has and a few of them, and the state of
 * "<agent>/KEY" as the job stored it (JSON text, which the Python side decodes). A savepoint
 * that cannot be read exits 2 with one line on stderr.
 *
 * The agent operator's stream is keyed by a one-field row (PyFlink's Java key selector
 * wraps the key), so the key type is ROW<STRING>; in thread mode a Python state descriptor of
 * Types.STRING()/Types.LONG() is a Java descriptor of String/Long, so the values read here
 * are the Java types themselves.
 */

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.core.memory.DataInputViewStreamWrapper;
import org.apache.flink.runtime.checkpoint.OperatorState;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.checkpoint.metadata.CheckpointMetadata;
import org.apache.flink.runtime.state.KeyedBackendSerializationProxy;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.metainfo.StateMetaInfoSnapshot;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ArrayNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.flink.state.api.OperatorIdentifier;
import org.apache.flink.state.api.SavepointReader;
import org.apache.flink.state.api.functions.KeyedStateReaderFunction;
import org.apache.flink.state.api.runtime.SavepointLoader;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.Collector;

public final class AgentStateReader {
    static final String UID_PREFIX = "agents:";
    static final String TASK = "task:";
    static final int SAMPLES = 5;
    static final ObjectMapper JSON = new ObjectMapper();

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            fail("usage: AgentStateReader SAVEPOINT KEY AGENT|- APP|-");
        }
        String path = args[0];
        String key = args[1];
        String agent = "-".equals(args[2]) ? null : args[2];
        String app = "-".equals(args[3]) ? null : args[3];
        CheckpointMetadata metadata;
        try {
            metadata = SavepointLoader.loadSavepointMetadata(path);
        } catch (IOException | RuntimeException e) {
            fail("cannot read the savepoint's metadata: " + e);
            return;
        }
        ObjectNode out = JSON.createObjectNode();
        ArrayNode uids = out.putArray("uids");
        ArrayNode operators = out.putArray("operators");
        for (OperatorState operator : metadata.getOperatorStates()) {
            String uid = operator.getOperatorUid().orElse(null);
            if (uid == null) {
                continue;
            }
            uids.add(uid);
            if (!uid.startsWith(UID_PREFIX)) {
                continue;
            }
            if (app != null && !uid.equals(UID_PREFIX + app)) {
                continue;
            }
            List<String> agents = agentsOf(operator);
            ObjectNode node = operators.addObject();
            node.put("uid", uid);
            ArrayNode names = node.putArray("agents");
            agents.forEach(names::add);
            List<String> read = new ArrayList<>();
            for (String name : agents) {
                if (agent == null || agent.equals(name)) {
                    read.add(name);
                }
            }
            if (!read.isEmpty()) {
                readKey(path, uid, read, key, node);
            }
        }
        System.out.println(JSON.writeValueAsString(out));
    }

    /** The agents whose state the operator holds: the names of its "task:<agent>" states. */
    static List<String> agentsOf(OperatorState operator) throws IOException {
        TreeSet<String> agents = new TreeSet<>();
        for (OperatorSubtaskState subtask : operator.getStates()) {
            for (KeyedStateHandle handle : subtask.getManagedKeyedState()) {
                if (!(handle instanceof StreamStateHandle)) {
                    fail(
                            "the state of "
                                    + operator.getOperatorUid().orElse("?")
                                    + " is not in Flink's canonical savepoint format ("
                                    + handle.getClass().getSimpleName()
                                    + "): read a savepoint, not a checkpoint");
                }
                for (StateMetaInfoSnapshot state : stateNames((StreamStateHandle) handle)) {
                    if (state.getName().startsWith(TASK)) {
                        agents.add(state.getName().substring(TASK.length()));
                    }
                }
            }
        }
        return new ArrayList<>(agents);
    }

    /** The keyed states a handle holds, from the header every canonical savepoint file has. */
    static List<StateMetaInfoSnapshot> stateNames(StreamStateHandle handle) throws IOException {
        try (InputStream in = handle.openInputStream()) {
            KeyedBackendSerializationProxy<Row> proxy =
                    new KeyedBackendSerializationProxy<>(AgentStateReader.class.getClassLoader());
            proxy.read(new DataInputViewStreamWrapper(new DataInputStream(in)));
            return proxy.getStateMetaInfoSnapshots();
        }
    }

    /** Reads every key of the operator's agents in ``read``; keeps ``key``'s state whole. */
    static void readKey(String path, String uid, List<String> read, String key, ObjectNode node)
            throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(1);
        SavepointReader savepoint = SavepointReader.read(env, path);
        ObjectNode counts = node.putObject("keys");
        ObjectNode samples = node.putObject("samples");
        ArrayNode found = node.putArray("found");
        try (CloseableIterator<String> rows =
                savepoint
                        .readKeyedState(
                                OperatorIdentifier.forUid(uid),
                                new Reader(read, key),
                                Types.ROW(Types.STRING),
                                Types.STRING)
                        .executeAndCollect("flink-agents state inspect")) {
            while (rows.hasNext()) {
                ObjectNode row = (ObjectNode) JSON.readTree(rows.next());
                String agent = row.get("agent").asText();
                counts.put(agent, counts.path(agent).asLong(0) + 1);
                ArrayNode some = samples.has(agent) ? (ArrayNode) samples.get(agent) : samples.putArray(agent);
                if (some.size() < SAMPLES) {
                    some.add(row.get("key").asText());
                }
                if (row.has("task")) {
                    found.add(row);
                }
            }
        }
    }

    /** One row per key: its agent and key; for the key asked for, its state too. */
    static final class Reader extends KeyedStateReaderFunction<Row, String> {
        final List<String> agents;
        final String key;
        transient Map<String, ValueState<String>> tasks;
        transient Map<String, MapState<Long, String>> queues;
        transient Map<String, ValueState<String>> ends;
        transient Map<String, ListState<String>> histories;

        Reader(List<String> agents, String key) {
            this.agents = agents;
            this.key = key;
        }

        @Override
        public void open(OpenContext context) {
            tasks = new TreeMap<>();
            queues = new TreeMap<>();
            ends = new TreeMap<>();
            histories = new TreeMap<>();
            for (String agent : agents) {
                tasks.put(agent, getRuntimeContext().getState(
                        new ValueStateDescriptor<>(TASK + agent, Types.STRING)));
                queues.put(agent, getRuntimeContext().getMapState(
                        new MapStateDescriptor<>("queue:" + agent, Types.LONG, Types.STRING)));
                ends.put(agent, getRuntimeContext().getState(
                        new ValueStateDescriptor<>("queue-ends:" + agent, Types.STRING)));
                histories.put(agent, getRuntimeContext().getListState(
                        new ListStateDescriptor<>("history:" + agent, Types.STRING)));
            }
        }

        @Override
        public void readKey(Row routingKey, Context context, Collector<String> out)
                throws Exception {
            String full = (String) routingKey.getField(0);
            int slash = full.indexOf('/');
            String agent = slash < 0 ? full : full.substring(0, slash);
            String conversation = slash < 0 ? "" : full.substring(slash + 1);
            if (!tasks.containsKey(agent)) {
                return;
            }
            ObjectNode row = JSON.createObjectNode();
            row.put("agent", agent);
            row.put("key", conversation);
            if (conversation.equals(key)) {
                row.put("task", tasks.get(agent).value());
                ObjectNode queue = row.putObject("queue");
                for (Map.Entry<Long, String> entry : queues.get(agent).entries()) {
                    queue.put(Long.toString(entry.getKey()), entry.getValue());
                }
                row.put("queue_ends", ends.get(agent).value());
                ArrayNode history = row.putArray("history");
                Iterable<String> remembered = histories.get(agent).get();
                if (remembered != null) {
                    remembered.forEach(history::add);
                }
            }
            out.collect(JSON.writeValueAsString(row));
        }
    }

    static void fail(String message) {
        System.err.println(message);
        System.exit(2);
    }
}
