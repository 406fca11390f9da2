// Deletes the topics whose names match a regular expression. Run by the Java source
// launcher, like Ready.java:
//
//   java -cp "<kafka libs>/*" scripts/kafka/DeleteTopics.java <host:port> <regex> [client.properties]
//
// The optional properties file holds the client settings to connect with (the secured
// broker's admin.properties: SASL_SSL as its super user), so no password is an argument.
//
// The services create their topics with unlimited retention (ADR 0010), so the topics of
// test runs would stay on the broker's disk for good: scripts/test.sh removes what earlier
// runs left behind, as it does with their databases. Prints how many it deleted.
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;

public class DeleteTopics {
    public static void main(String[] args) throws Exception {
        if (args.length != 2 && args.length != 3) {
            System.err.println("usage: DeleteTopics.java <host:port> <regex> [client.properties]");
            System.exit(2);
        }
        Pattern pattern = Pattern.compile(args[1]);
        Properties props = new Properties();
        if (args.length == 3) {
            try (var in = java.nio.file.Files.newInputStream(java.nio.file.Path.of(args[2]))) {
                props.load(in);
            }
        }
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        try (Admin admin = Admin.create(props)) {
            List<String> doomed = admin.listTopics().names().get(30, TimeUnit.SECONDS).stream()
                    .filter(name -> pattern.matcher(name).matches())
                    .toList();
            if (!doomed.isEmpty()) {
                admin.deleteTopics(doomed).all().get(60, TimeUnit.SECONDS);
            }
            System.out.println("deleted " + doomed.size() + " topics matching " + args[1]);
        }
    }
}
