//! What the node reports about itself: `GET /metrics` (Prometheus text format) and
//! `GET /health`, served by the HTTP gateway.
//!
//! ```
//! let m = lineage_node::metrics::Metrics::new();
//! m.rejected("rate_limit");
//! assert!(m.encode().contains("lineage_particles_rejected_total{reason=\"rate_limit\"} 1"));
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{extract::State, Router};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use serde_json::json;

use crate::exec::ExecStats;

type Labels = Vec<(&'static str, &'static str)>;

/// The node's counters, gauges and histograms.
pub struct Metrics {
    registry: Registry,
    pub connections: Gauge,
    pub particles_received: Counter,
    pub particles_sent: Counter,
    pub particles_send_failed: Counter,
    rejected: Family<Labels, Counter>,
    pub particles_in_flight: Gauge,
    pub queue_depth: Gauge,
    pub workers_busy: Gauge,
    pub bytes_held: Gauge,
    /// Worker time per visit (AquaVM rounds and service calls), seconds.
    pub exec_seconds: Histogram,
    /// Time a visit waited for a worker, seconds.
    pub queue_seconds: Histogram,
    /// The swarm's own (libp2p-metrics): connections by transport and protocol, dial and
    /// listen errors, identify and Kademlia; names start `lineage_libp2p_`.
    pub swarm: libp2p_metrics::Metrics,
    ready: AtomicBool,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("lineage");
        let swarm = libp2p_metrics::Metrics::new(&mut registry);
        let m = Metrics {
            swarm,
            connections: Gauge::default(),
            particles_received: Counter::default(),
            particles_sent: Counter::default(),
            particles_send_failed: Counter::default(),
            rejected: Family::default(),
            particles_in_flight: Gauge::default(),
            queue_depth: Gauge::default(),
            workers_busy: Gauge::default(),
            bytes_held: Gauge::default(),
            // 100 µs … ~13 s
            exec_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 18)),
            queue_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 18)),
            ready: AtomicBool::new(false),
            registry: Registry::default(),
        };
        registry.register(
            "connections",
            "Established connections",
            m.connections.clone(),
        );
        registry.register(
            "particles_received",
            "Particles received",
            m.particles_received.clone(),
        );
        registry.register("particles_sent", "Particles sent", m.particles_sent.clone());
        registry.register(
            "particles_send_failed",
            "Particles that could not be delivered",
            m.particles_send_failed.clone(),
        );
        registry.register(
            "particles_rejected",
            "Particles dropped, by reason",
            m.rejected.clone(),
        );
        registry.register(
            "particles_in_flight",
            "Particles whose state the node keeps",
            m.particles_in_flight.clone(),
        );
        registry.register(
            "particle_queue_depth",
            "Visits waiting for a worker",
            m.queue_depth.clone(),
        );
        registry.register(
            "workers_busy",
            "Particle workers running",
            m.workers_busy.clone(),
        );
        registry.register(
            "particle_bytes_held",
            "Bytes of particle data and scripts kept",
            m.bytes_held.clone(),
        );
        registry.register(
            "particle_exec_seconds",
            "Worker time per particle visit (AquaVM and service calls)",
            m.exec_seconds.clone(),
        );
        registry.register(
            "particle_queue_seconds",
            "Time a particle visit waited for a worker",
            m.queue_seconds.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Counts a particle dropped for `reason`.
    pub fn rejected(&self, reason: &'static str) {
        self.rejected.get_or_create(&vec![("reason", reason)]).inc();
    }

    /// Updates the executor's gauges.
    pub fn exec(&self, s: ExecStats) {
        let g = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        self.particles_in_flight.set(g(s.particles));
        self.queue_depth.set(g(s.queued));
        self.workers_busy.set(g(s.busy_workers));
        self.bytes_held.set(g(s.bytes_held));
    }

    /// The node has all its listeners (what `/health` reports).
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    /// The registry in Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// `GET /metrics` and `GET /health`.
    pub fn routes(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/metrics", get(metrics))
            .route("/health", get(health))
            .with_state(Arc::clone(self))
    }
}

async fn metrics(State(m): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        m.encode(),
    )
}

async fn health(State(m): State<Arc<Metrics>>) -> impl IntoResponse {
    let ready = m.ready.load(Ordering::Relaxed);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ok" } else { "starting" },
        "connections": m.connections.get(),
        "particles_in_flight": m.particles_in_flight.get(),
        "workers_busy": m.workers_busy.get(),
    });
    (status, axum::Json(body))
}
