//! Redis for tests: the shared server at `ISR_REDIS_URL`, or a private `redis-server` process
//! a test may stop, restart and pause without disturbing other tests.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The shared Redis of the test run.
pub fn redis_url() -> String {
    std::env::var("ISR_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A key prefix no other test uses.
pub fn unique_prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("isr-test:{test}:{}:{nanos}", std::process::id())
}

/// A `redis-server` process of this test alone, on a free port of 127.0.0.1.
#[derive(Debug)]
pub struct PrivateRedis {
    /// Its port.
    pub port: u16,
    /// What `redis-server` is started with.
    args: Vec<String>,
    child: Option<Child>,
}

/// A port of 127.0.0.1 nothing listens on now, below the range the system takes the local
/// ports of outgoing connections from: a server killed by a test and started again on its port
/// must find it free, not taken by one of the test's own connections meanwhile.
/// A port is handed out once per process.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for _ in 0..1000 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        let port = 20_000 + (hasher.finish() % 12_000) as u16;
        if !given.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.push(port);
            return port;
        }
    }
    panic!("no free port between 20000 and 32000")
}

impl PrivateRedis {
    /// Starts one and waits until it answers.
    pub async fn start() -> Self {
        let mut redis = Self::reserve();
        redis.spawn().await;
        redis
    }

    /// One on a free port, not started yet ([`restart`](Self::restart) starts it).
    pub fn reserve() -> Self {
        let port = free_port();
        let args = ["--port", &port.to_string(), "--bind", "127.0.0.1"]
            .into_iter()
            .chain(["--save", "", "--appendonly", "no"])
            .map(str::to_owned)
            .collect();
        Self::stopped(port, args)
    }

    /// One that [`restart`](Self::restart) starts with `args` (on `port`); not running yet.
    pub fn stopped(port: u16, args: Vec<String>) -> Self {
        Self {
            port,
            args,
            child: None,
        }
    }

    /// Whether its process runs (it was not killed).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (.ci/run installs it)");
        self.child = Some(child);
        for _ in 0..500 {
            if self.query(&["PING"]).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("redis-server on port {} did not start", self.port);
    }

    /// Kills the server (as a crash would).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same arguments (empty: nothing is kept on
    /// disk but what a cluster node writes of its configuration).
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    /// Stops the server's process without ending it (`SIGSTOP`): connections stay open and
    /// nothing answers, as with a server stalled by the machine, until [`thaw`](Self::thaw).
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Lets a [frozen](Self::freeze) server run again (`SIGCONT`).
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("the server runs").id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// Runs one command on the server.
    pub async fn query(&self, args: &[&str]) -> redis::RedisResult<redis::Value> {
        self.query_on(&[], args).await
    }

    /// Runs one command on a replica of a Redis Cluster, which answers reads only on a
    /// connection that said `READONLY`.
    pub async fn query_replica(&self, args: &[&str]) -> redis::RedisResult<redis::Value> {
        self.query_on(&["READONLY"], args).await
    }

    /// Runs `first` (if any), then `args`, on one connection; the answer to `args`.
    async fn query_on(&self, first: &[&str], args: &[&str]) -> redis::RedisResult<redis::Value> {
        let client = redis::Client::open(self.url())?;
        let mut connection = client.get_multiplexed_async_connection().await?;
        let command = |args: &[&str]| {
            let mut command = redis::cmd(args[0]);
            for arg in &args[1..] {
                command.arg(*arg);
            }
            command
        };
        if !first.is_empty() {
            command(first).query_async::<()>(&mut connection).await?;
        }
        command(args).query_async(&mut connection).await
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        if self.child.is_some() {
            // A frozen server would not die of SIGKILL's wait otherwise.
            let _ = self.child.as_ref().map(|c| {
                Command::new("kill")
                    .args(["-CONT", &c.id().to_string()])
                    .status()
            });
        }
        self.kill();
    }
}
