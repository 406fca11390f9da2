// Provisions the secured broker's principals: SCRAM-SHA-512 credentials for every user
// with a password file, and exactly the ACLs of the spec. Run by the Java source launcher:
//
//   java -cp "<kafka libs>/*" scripts/kafka/Acls.java <host:port> <admin.properties> <passwords dir> <acls.txt>
//
// <admin.properties>: the Java client settings of User:admin (SASL_SSL, SCRAM, PEM trust).
// <passwords dir>: one file per user, named after it, holding its password; `admin` and
// `controller` are skipped (the format and server.properties hold theirs). Passwords are
// read from files so they never appear on a command line.
// <acls.txt>: `principal resource(topic|group|cluster) pattern(literal|prefixed) name ops,...`
// lines, `#` comments. Any other ACL of a provisioned user is deleted: the spec is the
// whole truth, and running this again changes nothing (ACL creation is idempotent).
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class Acls {
    /** SCRAM iterations: Kafka's minimum for SHA-512 is 4096. */
    private static final int ITERATIONS = 8192;

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: Acls.java <host:port> <admin.properties> <passwords dir> <acls.txt>");
            System.exit(2);
        }
        Properties props = new Properties();
        try (var in = Files.newInputStream(Path.of(args[1]))) {
            props.load(in);
        }
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        List<UserScramCredentialAlteration> users = users(Path.of(args[2]));
        List<AclBinding> wanted = spec(Path.of(args[3]));
        Set<String> principals = new HashSet<>();
        users.forEach(u -> principals.add("User:" + u.user()));
        wanted.forEach(b -> principals.add(b.entry().principal()));
        try (Admin admin = Admin.create(props)) {
            admin.alterUserScramCredentials(users).all().get(30, TimeUnit.SECONDS);
            List<AclBinding> stale = admin.describeAcls(AclBindingFilter.ANY).values().get(30, TimeUnit.SECONDS)
                    .stream()
                    .filter(b -> principals.contains(b.entry().principal()) && !wanted.contains(b))
                    .toList();
            if (!stale.isEmpty()) {
                admin.deleteAcls(stale.stream().map(AclBinding::toFilter).toList()).all().get(30, TimeUnit.SECONDS);
            }
            admin.createAcls(wanted).all().get(30, TimeUnit.SECONDS);
            System.out.println(users.size() + " users, " + wanted.size() + " ACLs, " + stale.size() + " stale ACLs removed");
        }
    }

    private static List<UserScramCredentialAlteration> users(Path dir) throws Exception {
        List<UserScramCredentialAlteration> users = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path file : files.sorted().toList()) {
                String name = file.getFileName().toString();
                if (name.equals("admin") || name.equals("controller")) continue;
                String password = Files.readString(file).strip();
                users.add(new UserScramCredentialUpsertion(
                        name, new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, ITERATIONS), password));
            }
        }
        return users;
    }

    private static List<AclBinding> spec(Path file) throws Exception {
        List<AclBinding> bindings = new ArrayList<>();
        int number = 0;
        for (String line : Files.readAllLines(file)) {
            number++;
            String text = line.strip();
            if (text.isEmpty() || text.startsWith("#")) continue;
            String[] f = text.split("\\s+");
            if (f.length != 5) throw new IllegalArgumentException(file + ":" + number + ": expected 5 fields");
            ResourcePattern resource = new ResourcePattern(
                    ResourceType.fromString(f[1].toUpperCase()), f[3], PatternType.fromString(f[2].toUpperCase()));
            if (resource.resourceType() == ResourceType.UNKNOWN || resource.patternType() == PatternType.UNKNOWN) {
                throw new IllegalArgumentException(file + ":" + number + ": unknown resource or pattern type");
            }
            for (String op : f[4].split(",")) {
                AclOperation operation = AclOperation.fromString(camelToSnake(op));
                if (operation == AclOperation.UNKNOWN) {
                    throw new IllegalArgumentException(file + ":" + number + ": unknown operation " + op);
                }
                bindings.add(new AclBinding(resource,
                        new AccessControlEntry("User:" + f[0], "*", operation, AclPermissionType.ALLOW)));
            }
        }
        return bindings;
    }

    /** `DescribeConfigs` -> `DESCRIBE_CONFIGS`, the enum's spelling. */
    private static String camelToSnake(String op) {
        return op.replaceAll("([a-z])([A-Z])", "$1_$2").toUpperCase();
    }
}
