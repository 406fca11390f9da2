//! The services under test, started by the benchmark as child processes from the release
//! binaries, so it can time their start-up, read their memory and stop them between steps.

use crate::http::Conn;
use anyhow::Context;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// Where the binaries are and where their logs go.
#[derive(Debug, Clone)]
pub struct Launcher {
    pub bin_dir: PathBuf,
    pub log_dir: PathBuf,
    /// Settings every child gets on top of the inherited environment.
    pub env: Vec<(String, String)>,
}

/// A running child service.
pub struct Service {
    name: String,
    child: Child,
    /// The address of its HTTP listener, if it has one.
    pub addr: Option<SocketAddr>,
    started: Instant,
}

impl Launcher {
    /// Starts `binary args…` with `env` added, logging to `<log_dir>/<name>.log`.
    pub fn spawn(
        &self,
        name: &str,
        binary: &str,
        args: &[&str],
        env: &[(&str, String)],
        addr: Option<SocketAddr>,
    ) -> anyhow::Result<Service> {
        self.spawn_path(name, &self.bin_dir.join(binary), args, env, addr)
    }

    /// Starts a binary from outside the services' directory (a tool the run needs).
    pub fn spawn_binary(&self, name: &str, path: &str, args: &[&str]) -> anyhow::Result<Service> {
        self.spawn_path(name, std::path::Path::new(path), args, &[], None)
    }

    fn spawn_path(
        &self,
        name: &str,
        path: &std::path::Path,
        args: &[&str],
        env: &[(&str, String)],
        addr: Option<SocketAddr>,
    ) -> anyhow::Result<Service> {
        std::fs::create_dir_all(&self.log_dir)?;
        let log_path = self.log_dir.join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let mut command = Command::new(path);
        command
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", path.display()))?;
        Ok(Service {
            name: name.to_owned(),
            child,
            addr,
            started: Instant::now(),
        })
    }
}

impl Service {
    /// Waits until `GET /readyz` answers 200 and returns the time since the start.
    pub async fn ready(&mut self, timeout: Duration) -> anyhow::Result<Duration> {
        let addr = self.addr.context("the service has no listener")?;
        loop {
            if let Ok(mut conn) = Conn::open(addr).await
                && let Ok(r) = conn.get("/readyz").await
                && r.status == 200
            {
                return Ok(self.started.elapsed());
            }
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("{} exited with {status} before it was ready", self.name);
            }
            anyhow::ensure!(
                self.started.elapsed() < timeout,
                "{} not ready after {timeout:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Resident memory now, in bytes.
    pub fn rss(&self) -> Option<u64> {
        self.status_kib("VmRSS:").map(|kib| kib * 1024)
    }

    /// Peak resident memory so far, in bytes.
    pub fn peak_rss(&self) -> Option<u64> {
        self.status_kib("VmHWM:").map(|kib| kib * 1024)
    }

    fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()?)).ok()?;
        parse_status_kib(&status, field)
    }

    /// Waits for the process to exit on its own, returning its status, the time since the
    /// start and its peak resident memory (sampled until the exit).
    pub async fn finish(&mut self) -> anyhow::Result<(ExitStatus, Duration, u64)> {
        let mut peak = 0;
        loop {
            peak = peak.max(self.peak_rss().unwrap_or(0));
            if let Some(status) = self.child.try_wait()? {
                return Ok((status, self.started.elapsed(), peak));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Asks the process to stop (SIGTERM), then kills it if it has not within 10 s.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            self.child.kill().await?;
        }
        Ok(())
    }
}

/// A loopback address with a port nobody listens on right now.
pub fn free_addr() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

fn parse_status_kib(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_is_read_from_proc_status_lines() {
        let status = "Name:\tcommand-service\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n";
        assert_eq!(parse_status_kib(status, "VmRSS:"), Some(102_400));
        assert_eq!(parse_status_kib(status, "VmHWM:"), Some(204_800));
        assert_eq!(parse_status_kib(status, "VmSwap:"), None);
    }
}
