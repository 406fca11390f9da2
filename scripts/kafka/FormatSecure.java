// Formats the secured broker's data dir with User:admin's SCRAM-SHA-512 credentials in
// the first metadata, so the broker's inter-broker client and the scripts can log in
// before any ACL or user exists. Run by the Java source launcher:
//
//   java -cp "<kafka libs>/*" scripts/kafka/FormatSecure.java <server.properties> <cluster id> <admin password file>
//
// StorageTool takes the password only as an argument (`--add-scram`), which `ps` would
// show for the tool's lifetime; it is called in this JVM instead, with the password read
// from its 0600 file. StorageTool exits the JVM itself.
import java.nio.file.Files;
import java.nio.file.Path;

public class FormatSecure {
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: FormatSecure.java <server.properties> <cluster id> <admin password file>");
            System.exit(2);
        }
        String password = Files.readString(Path.of(args[2])).strip();
        // The scram argument's own syntax has no quoting for these.
        if (!password.matches("[A-Za-z0-9_-]+")) {
            System.err.println("FormatSecure: the admin password must be alphanumeric (see " + args[2] + ")");
            System.exit(2);
        }
        kafka.tools.StorageTool.main(new String[] {
            "format", "--ignore-formatted", "-t", args[1], "-c", args[0],
            "--add-scram", "SCRAM-SHA-512=[name=admin,password=" + password + "]",
        });
    }
}
