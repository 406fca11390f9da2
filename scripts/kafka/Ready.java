// Is a Kafka broker up and answering metadata requests? Run by the Java source launcher:
//
//   java -cp "<kafka libs>/*" scripts/kafka/Ready.java <host:port> [options]
//     --cluster-id ID   also require this cluster id (so another data dir's broker on the
//                       port is not taken for ours)
//     --wait SECONDS    keep asking until the broker answers or SECONDS pass (default: ask once)
//     --pid PID         while waiting, give up at once when process PID exits
//     --command-config FILE  client properties to connect with (SASL_SSL for the secured
//                       broker); read from a file so no password is on the command line
//
// Exits 0 when describeCluster returns a cluster id and at least one node; 1 when it does
// not answer (in time) or the cluster id differs; 2 on bad arguments; 3 when PID exited.
// An open port alone proves nothing: the broker binds its listeners before it has caught
// up with its metadata log. Waiting here rather than in a shell loop starts one JVM (and
// one compile of this file) instead of one per attempt.
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.common.Node;

public class Ready {
    /** One attempt's bound; short so a dead --pid is noticed quickly. */
    private static final int ATTEMPT_MS = 1500;

    public static void main(String[] args) throws InterruptedException {
        String bootstrap = null, expected = null, commandConfig = null;
        long waitMs = 0;
        Optional<ProcessHandle> watched = Optional.empty();
        boolean watching = false;
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--cluster-id" -> expected = args[++i];
                    case "--command-config" -> commandConfig = args[++i];
                    case "--wait" -> waitMs = (long) (Double.parseDouble(args[++i]) * 1000);
                    case "--pid" -> {
                        watching = true;
                        watched = ProcessHandle.of(Long.parseLong(args[++i]));
                    }
                    default -> {
                        if (bootstrap != null || args[i].startsWith("-")) throw new IllegalArgumentException(args[i]);
                        bootstrap = args[i];
                    }
                }
            }
            if (bootstrap == null) throw new IllegalArgumentException("no host:port");
        } catch (RuntimeException e) {
            System.err.println("usage: Ready.java <host:port> [--cluster-id ID] [--wait SECONDS] [--pid PID] [--command-config FILE] (" + e.getMessage() + ")");
            Runtime.getRuntime().halt(2);
        }

        Properties props = new Properties();
        if (commandConfig != null) {
            try (var in = Files.newInputStream(Path.of(commandConfig))) {
                props.load(in);
            } catch (java.io.IOException e) {
                System.err.println("Ready: cannot read " + commandConfig + ": " + e.getMessage());
                Runtime.getRuntime().halt(2);
            }
        }
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, ATTEMPT_MS);
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, ATTEMPT_MS);
        props.put(AdminClientConfig.RECONNECT_BACKOFF_MS_CONFIG, 100);
        props.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 250);
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, "orderflow-ready");
        Admin admin = Admin.create(props);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
        String problem;
        while (true) {
            try {
                DescribeClusterResult cluster =
                    admin.describeCluster(new DescribeClusterOptions().timeoutMs(ATTEMPT_MS));
                String id = cluster.clusterId().get(ATTEMPT_MS, TimeUnit.MILLISECONDS);
                Collection<Node> nodes = cluster.nodes().get(ATTEMPT_MS, TimeUnit.MILLISECONDS);
                if (id != null && !nodes.isEmpty()) {
                    if (expected != null && !expected.equals(id)) {
                        System.err.println("Ready: " + bootstrap + " is cluster " + id + ", expected " + expected);
                        Runtime.getRuntime().halt(1);
                    }
                    System.out.println("cluster " + id + ", nodes " + nodes);
                    // No admin.close(): the verdict is in, and close can linger on a dying broker.
                    Runtime.getRuntime().halt(0);
                }
                problem = "answered without a cluster id or nodes";
            } catch (Exception e) {
                Throwable cause = e.getCause() != null ? e.getCause() : e;
                problem = "did not answer: " + cause;
            }
            if (watching && !watched.map(ProcessHandle::isAlive).orElse(false)) {
                System.err.println("Ready: the broker process exited");
                Runtime.getRuntime().halt(3);
            }
            if (System.nanoTime() >= deadline) {
                System.err.println("Ready: " + bootstrap + " " + problem);
                Runtime.getRuntime().halt(1);
            }
            Thread.sleep(250);
        }
    }
}
