//! A service binary run with secrets in its environment, for tests that show it prints
//! none of them: not in `--help`, not in its log.

use std::process::{Child, Command, Stdio};

/// Every secret value a test sets holds this; its absence from the output is the check.
pub const SECRET: &str = "hunter2";

/// `binary` with `env` set (each value holding [`SECRET`]) and the default log filter.
pub fn command(binary: &str, env: &[(&str, String)]) -> Command {
    let mut command = Command::new(binary);
    for (name, value) in env {
        command.env(name, value);
    }
    command.env_remove("RUST_LOG");
    command
}

/// What `command --help` prints, stdout and stderr.
pub fn help(mut command: Command) -> String {
    let output = command.arg("--help").output().expect("the binary runs");
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// Starts `command` with its output captured, for [`output_of`].
pub fn spawn(mut command: Command) -> Child {
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

/// Stops `child` and returns everything it wrote, stdout and stderr.
pub fn output_of(mut child: Child) -> String {
    let _ = child.kill();
    let output = child.wait_with_output().expect("the output of the binary");
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}
