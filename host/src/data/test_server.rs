//! A minimal HTTP/1.1 file server on 127.0.0.1 for download tests, with `Range` support.
//!
//! Tests must not reach the network, yet resuming is only tested honestly against a real
//! socket and real HTTP. The server answers one request per connection, records each request's
//! path and `Range` header, and stops when dropped or after a deadline, so no test can leave
//! it running.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The longest a server runs, whatever its test does.
const LIFETIME: Duration = Duration::from_secs(30);

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub path: String,
    pub range: Option<String>,
}

/// A running server; dropping it stops it.
#[derive(Debug)]
pub(crate) struct TestServer {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Serves `files` (path without the leading slash → bytes). A server that does not
    /// `honour_range` answers every request with the whole file, as some servers do.
    pub fn start(files: HashMap<String, Vec<u8>>, honour_range: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let url = format!("http://{}", listener.local_addr().expect("bound address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, flag) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + LIFETIME;
            while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => answer(stream, &files, honour_range, &log),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            url,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("request log").clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn answer(
    stream: TcpStream,
    files: &HashMap<String, Vec<u8>>,
    honour_range: bool,
    log: &Mutex<Vec<Request>>,
) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Some(request) = read_request(&stream) else {
        return;
    };
    log.lock().expect("request log").push(request.clone());
    let Some(body) = files.get(request.path.trim_start_matches('/')) else {
        respond(&stream, "404 Not Found", &[], &[]);
        return;
    };
    let start = request
        .range
        .as_deref()
        .filter(|_| honour_range)
        .and_then(|r| {
            r.strip_prefix("bytes=")?
                .strip_suffix('-')?
                .parse::<usize>()
                .ok()
        });
    let len = body.len();
    match start {
        None => respond(&stream, "200 OK", &[], body),
        Some(s) if s >= len => {
            let range = format!("Content-Range: bytes */{len}");
            respond(&stream, "416 Range Not Satisfiable", &[range], &[]);
        }
        Some(s) => {
            let range = format!("Content-Range: bytes {s}-{}/{len}", len - 1);
            respond(&stream, "206 Partial Content", &[range], &body[s..]);
        }
    }
}

/// The request line's path and the `Range` header, from the request head.
fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut range = None;
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("range")
        {
            range = Some(value.trim().to_owned());
        }
    }
    Some(Request { path, range })
}

fn respond(mut stream: &TcpStream, status: &str, headers: &[String], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}
