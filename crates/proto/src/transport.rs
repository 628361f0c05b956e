//! How a service calls another: a [`Transport`] to a URL. Between processes it is a tonic [`Channel`] (HTTP/2
//! over TCP). When the service at that URL runs in this same process — standalone mode, where every service
//! shares one process — the call goes straight to its router instead: the same codec, middleware and handlers,
//! without HTTP/2 framing and loopback TCP (BENCHMARKS.md measures the difference). Services register
//! themselves with [`serve_locally`] while they listen; a URL nobody registered is always called over the network.

use std::{
    collections::HashMap,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, OnceLock, RwLock,
    },
    task::{Context, Poll},
    time::Duration,
};

use tokio_util::task::{AbortOnDropHandle, TaskTracker};
use tonic::{body::Body, transport::Channel};
use tower::{util::BoxCloneSyncService, Service, ServiceExt};

/// Errors of a call, as tonic expects them.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A service's gRPC router, callable in process.
pub type LocalService = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, BoxError>;

type ResponseFuture = Pin<Box<dyn Future<Output = Result<http::Response<Body>, BoxError>> + Send>>;

/// A service listening in this process: its router, and the calls to it still running.
#[derive(Clone)]
struct Local {
    id: u64,
    service: LocalService,
    calls: TaskTracker,
}

/// Services listening in this process, by the authority their URL names (`127.0.0.1:50051`).
fn registry() -> &'static RwLock<HashMap<String, Local>> {
    static REGISTRY: OnceLock<RwLock<HashMap<String, Local>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// Makes the service listening on `addr` callable in process until the returned guard is dropped.
#[must_use = "the service is only reachable in process while the guard lives"]
pub fn serve_locally(addr: SocketAddr, service: LocalService) -> Registration {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let local = Local {
        id: NEXT.fetch_add(1, Ordering::Relaxed),
        service,
        calls: TaskTracker::new(),
    };
    let registration = Registration {
        key: addr.to_string(),
        id: local.id,
        calls: local.calls.clone(),
    };
    if let Ok(mut services) = registry().write() {
        services.insert(registration.key.clone(), local);
    }
    registration
}

/// Keeps a service callable in process; dropping it makes callers use the network again.
#[derive(Debug)]
pub struct Registration {
    key: String,
    id: u64,
    calls: TaskTracker,
}

impl Registration {
    /// The in-process calls to the service, to wait for at shutdown (`close()` then `wait()`), as a server waits
    /// for the requests of its open connections.
    pub fn calls(&self) -> TaskTracker {
        self.calls.clone()
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut services) = registry().write() {
            // Only its own entry: the address may have been taken by a newer service since.
            if services.get(&self.key).is_some_and(|l| l.id == self.id) {
                services.remove(&self.key);
            }
        }
    }
}

fn local(key: &str) -> Option<Local> {
    registry().read().ok()?.get(key).cloned()
}

/// The deadline a request carries in its `grpc-timeout` header (`<digits><H|M|S|m|u|n>`), which only the network
/// channel would otherwise enforce.
fn deadline_of(request: &http::Request<Body>) -> Option<Duration> {
    let value = request.headers().get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// A connection to the service at a URL (`http://host:port`); cheap to clone. It connects on first use and
/// reconnects after failures; calls go in process once the service at that address is found listening here.
#[derive(Clone)]
pub struct Transport {
    channel: Channel,
    key: Arc<str>,
    timeout: Option<Duration>,
    /// Where the next call goes, chosen by `poll_ready`: the service in process, or the network when `None`.
    local: Option<Local>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("to", &self.key)
            .field("in_process", &self.local.is_some())
            .finish()
    }
}

/// How long one connection attempt over the network may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A transport to `url` (`http://host:port`). With `timeout`, every call fails after that long; without it the
/// caller's deadline is the only bound.
pub fn connect(url: &str, timeout: Option<Duration>) -> Result<Transport, http::uri::InvalidUri> {
    let uri: http::Uri = url.parse()?;
    let key = uri.authority().map(|a| a.as_str().to_owned()).unwrap_or_default();
    let channel = Channel::builder(uri)
        .connect_timeout(CONNECT_TIMEOUT)
        .connect_lazy();
    Ok(Transport {
        channel,
        key: key.into(),
        timeout,
        local: None,
    })
}

impl Transport {
    /// Whether the service this transport reaches is listening in this process now.
    pub fn in_process(&self) -> bool {
        local(&self.key).is_some()
    }
}

impl Service<http::Request<Body>> for Transport {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The route is chosen here, per call: a service that stopped is reached over the network again.
        self.local = local(&self.key);
        if self.local.is_some() {
            return Poll::Ready(Ok(()));
        }
        self.channel.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let limit = [self.timeout, deadline_of(&request)].into_iter().flatten().min();
        let call: ResponseFuture = match self.local.take() {
            Some(local) => {
                // Its own task, as a stream on a connection would be: a panic stays in it, dropping the caller
                // cancels it, and the service's shutdown waits for it.
                let task = AbortOnDropHandle::new(local.calls.spawn(local.service.oneshot(request)));
                Box::pin(async move {
                    match task.await {
                        Ok(answer) => answer,
                        Err(_) => Err(BoxError::from(tonic::Status::internal(
                            "the service failed while answering",
                        ))),
                    }
                })
            }
            None => {
                let call = self.channel.call(request);
                Box::pin(async move { call.await.map_err(Into::into) })
            }
        };
        match limit {
            None => call,
            Some(limit) => Box::pin(async move {
                tokio::time::timeout(limit, call)
                    .await
                    .map_err(|_| BoxError::from(tonic::Status::deadline_exceeded("the call timed out")))?
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answering(text: &'static str) -> LocalService {
        LocalService::new(tower::service_fn(move |_: http::Request<Body>| async move {
            Ok::<_, BoxError>(http::Response::new(Body::new(text.to_owned())))
        }))
    }

    async fn text(response: http::Response<Body>) -> String {
        use http_body_util::BodyExt;
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_service_listening_in_this_process_is_called_directly_until_it_stops() {
        // A port nothing listens on: over the network the call is refused.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut transport = connect(&format!("http://{addr}"), Some(Duration::from_secs(5))).unwrap();
        assert!(!transport.in_process());

        let registration = serve_locally(addr, answering("in process"));
        assert!(transport.in_process());
        let response = transport
            .ready()
            .await
            .unwrap()
            .call(http::Request::new(Body::empty()))
            .await
            .unwrap();
        assert_eq!(text(response).await, "in process");

        drop(registration);
        assert!(!transport.in_process());
        let refused = async {
            transport
                .ready()
                .await?
                .call(http::Request::new(Body::empty()))
                .await
        };
        assert!(
            refused.await.is_err(),
            "a stopped service is no longer reached in process"
        );
    }

    #[tokio::test]
    async fn in_process_calls_keep_the_deadline_and_a_panic_stays_in_the_service() {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut transport = connect(&format!("http://{addr}"), None).unwrap();
        let slow = LocalService::new(tower::service_fn(|request: http::Request<Body>| async move {
            if request.uri().path() == "/panic" {
                panic!("a handler bug");
            }
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok::<_, BoxError>(http::Response::new(Body::empty()))
        }));
        let registration = serve_locally(addr, slow);

        let mut request = http::Request::new(Body::empty());
        request
            .headers_mut()
            .insert("grpc-timeout", http::HeaderValue::from_static("100m"));
        let started = std::time::Instant::now();
        let error = transport.ready().await.unwrap().call(request).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the 100 ms deadline ended the call"
        );
        let status = error.downcast::<tonic::Status>().unwrap();
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);

        let request = http::Request::builder()
            .uri("/panic")
            .body(Body::empty())
            .unwrap();
        let error = transport.ready().await.unwrap().call(request).await.unwrap_err();
        assert_eq!(
            error.downcast::<tonic::Status>().unwrap().code(),
            tonic::Code::Internal
        );

        let calls = registration.calls();
        drop(registration);
        calls.close();
        tokio::time::timeout(Duration::from_secs(5), calls.wait())
            .await
            .expect("no call is left running");
    }

    #[test]
    fn deadlines_are_read_in_every_unit() {
        let with = |value: &'static str| {
            let mut request = http::Request::new(Body::empty());
            request
                .headers_mut()
                .insert("grpc-timeout", http::HeaderValue::from_static(value));
            deadline_of(&request)
        };
        assert_eq!(with("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(with("3M"), Some(Duration::from_secs(180)));
        assert_eq!(with("15S"), Some(Duration::from_secs(15)));
        assert_eq!(with("250m"), Some(Duration::from_millis(250)));
        assert_eq!(with("7u"), Some(Duration::from_micros(7)));
        assert_eq!(with("9n"), Some(Duration::from_nanos(9)));
        assert_eq!(with("x"), None);
        assert_eq!(with("10"), None);
    }
}
