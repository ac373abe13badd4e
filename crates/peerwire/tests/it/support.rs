//! Running the `peerwire` binary under a deadline, and reading reference-peer addresses.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// What a finished `peerwire` run produced.
#[derive(Debug)]
pub(crate) struct Run {
    /// The exit code (`None` when killed by a signal).
    pub(crate) code: Option<i32>,
    /// Everything written to stdout.
    pub(crate) stdout: String,
    /// Everything written to stderr.
    pub(crate) stderr: String,
}

impl Run {
    /// Asserts exit code 2 with exactly one `error: ...` line on stderr and nothing on stdout;
    /// returns that line.
    pub(crate) fn failed(&self) -> &str {
        assert_eq!(self.code, Some(2), "{self:#?}");
        self.single_error_line()
    }

    /// Asserts exit code 1 with exactly one `error: rpc error ...` line; returns that line.
    pub(crate) fn rpc_failed(&self) -> &str {
        assert_eq!(self.code, Some(1), "{self:#?}");
        let line = self.single_error_line();
        assert!(line.starts_with("error: rpc error "), "{self:#?}");
        line
    }

    /// Asserts exit code 0 and an empty stderr; returns the stdout lines.
    pub(crate) fn succeeded(&self) -> Vec<&str> {
        assert_eq!(self.code, Some(0), "{self:#?}");
        assert_eq!(self.stderr, "", "{self:#?}");
        self.stdout.lines().collect()
    }

    fn single_error_line(&self) -> &str {
        assert_eq!(self.stdout, "", "{self:#?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{self:#?}");
        assert!(lines[0].starts_with("error: "), "{self:#?}");
        lines[0]
    }
}

/// The `peerwire` command with `args`, logging off.
pub(crate) fn peerwire(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_peerwire"));
    cmd.args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs `peerwire args` to completion, failing the test after `limit`.
pub(crate) async fn run_within(limit: Duration, args: &[&str]) -> Run {
    finish(limit, peerwire(args)).await
}

/// Runs `peerwire args` with a 20 s deadline.
pub(crate) async fn run(args: &[&str]) -> Run {
    run_within(Duration::from_secs(20), args).await
}

/// Runs a prepared command to completion, failing the test after `limit`.
pub(crate) async fn finish(limit: Duration, mut cmd: Command) -> Run {
    let child = cmd.spawn().expect("spawning peerwire");
    let out = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("peerwire did not finish within {limit:?}"))
        .expect("waiting for peerwire");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

// A reference peer's variable from `cargo xtask test`; a missing one is a failure, never a skip.
pub(crate) use peerwire_testkit::peer_env;

/// A loopback port nothing listens on (bound, then released).
pub(crate) fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a port");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    port
}
