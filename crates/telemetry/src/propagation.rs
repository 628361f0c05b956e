//! W3C trace context across process boundaries: HTTP headers, gRPC metadata and bus envelopes (AMQP headers).

use std::collections::HashMap;

use opentelemetry::{global, propagation::Extractor, propagation::Injector, Context};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The `traceparent` of the current span, to put on an outgoing message.
pub fn current_traceparent() -> Option<String> {
    let cx = tracing::Span::current().context();
    let mut carrier: HashMap<String, String> = HashMap::new();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut carrier));
    carrier.remove("traceparent")
}

/// Makes `span` a child of the remote span named by `traceparent`.
pub fn set_parent(span: &tracing::Span, traceparent: &str) {
    let mut carrier: HashMap<String, String> = HashMap::new();
    carrier.insert("traceparent".to_owned(), traceparent.to_owned());
    let cx = global::get_text_map_propagator(|p| p.extract(&carrier));
    span.set_parent(cx);
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// The remote context carried by incoming HTTP headers (or gRPC metadata, which travels as HTTP/2 headers).
pub fn extract_headers(headers: &http::HeaderMap) -> Context {
    global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)))
}

/// Makes `span` a child of the context in `headers`, when there is one.
pub fn set_parent_from_headers(span: &tracing::Span, headers: &http::HeaderMap) {
    if headers.contains_key("traceparent") {
        span.set_parent(extract_headers(headers));
    }
}

/// Writes the current span's context into outgoing HTTP headers.
pub fn inject_headers(headers: &mut http::HeaderMap) {
    let cx = tracing::Span::current().context();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut HeaderInjector(headers)));
}

/// A tonic client interceptor that forwards the current trace context in gRPC metadata.
pub fn inject_grpc<T>(mut request: tonic::Request<T>) -> tonic::Request<T> {
    if let Some(tp) = current_traceparent() {
        if let Ok(v) = tp.parse() {
            request.metadata_mut().insert("traceparent", v);
        }
    }
    request
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider};
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    const INCOMING: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn with_tracing(f: impl FnOnce()) {
        global::set_text_map_propagator(TraceContextPropagator::new());
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, f);
    }

    #[test]
    fn a_child_span_continues_the_remote_trace() {
        with_tracing(|| {
            let span = tracing::info_span!("child");
            set_parent(&span, INCOMING);
            let _entered = span.enter();
            let out = current_traceparent().expect("a traceparent");
            assert!(
                out.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
                "same trace: {out}"
            );
            assert!(!out.contains("00f067aa0ba902b7"), "a new span id: {out}");
        });
    }

    #[test]
    fn the_context_travels_in_http_headers_and_grpc_metadata() {
        with_tracing(|| {
            let mut incoming = http::HeaderMap::new();
            incoming.insert("traceparent", http::HeaderValue::from_static(INCOMING));
            let span = tracing::info_span!("server");
            set_parent_from_headers(&span, &incoming);
            let _entered = span.enter();
            let mut outgoing = http::HeaderMap::new();
            inject_headers(&mut outgoing);
            let tp = outgoing
                .get("traceparent")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            assert!(tp.contains("4bf92f3577b34da6a3ce929d0e0e4736"), "{tp}");
            let request = inject_grpc(tonic::Request::new(()));
            let md = request
                .metadata()
                .get("traceparent")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            assert!(md.contains("4bf92f3577b34da6a3ce929d0e0e4736"), "{md}");
        });
    }
}
