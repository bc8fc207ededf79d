//! The in-process transport: a plain async call into the one handler, for runs under paused
//! tokio time where no real socket may be awaited (DESIGN.md §4).
//!
//! Latency is a `tokio::time::sleep`, so it costs nothing in real time under a paused clock
//! and keeps its order among other timers. The server applies a request at the instant it is
//! sent; the reply (or the dropped connection) reaches the caller after the latency.

use std::time::Duration;

use crate::model::time::VTime;
use crate::model::vocab::FaultKind;

use super::handler::{Exchange, Fapi};
use super::http::{HttpRequest, HttpResponse};

/// A request that got no HTTP answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("connection dropped before the server committed the request")]
    DroppedBeforeCommit,
    #[error("connection dropped after the server committed the request")]
    DroppedAfterCommit,
}

impl TransportError {
    /// Whether the server applied the request.
    pub fn committed(self) -> bool {
        matches!(self, TransportError::DroppedAfterCommit)
    }
}

/// What a transport call returns: the answer or the network error, and the fault behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub result: Result<HttpResponse, TransportError>,
    pub fault: Option<FaultKind>,
    /// The latency actually waited, in virtual milliseconds.
    pub latency_ms: u64,
}

/// Calls the handler directly, waiting out latency on the tokio clock.
#[derive(Clone, Debug)]
pub struct InProcess {
    fapi: Fapi,
    latency_ms: u64,
}

impl InProcess {
    /// `latency_ms` is the round trip of a request without a latency fault
    /// (`NetSettings::fapi_latency_ms`).
    pub fn new(fapi: Fapi, latency_ms: u64) -> InProcess {
        InProcess { fapi, latency_ms }
    }

    pub fn fapi(&self) -> &Fapi {
        &self.fapi
    }

    /// Sends `request` at virtual time `now` and waits for the answer.
    pub async fn send(
        &self,
        request: &HttpRequest,
        now: VTime,
    ) -> Result<HttpResponse, TransportError> {
        self.deliver(request, now).await.result
    }

    /// Like [`InProcess::send`], also telling the fault and the latency.
    pub async fn deliver(&self, request: &HttpRequest, now: VTime) -> Delivery {
        let handled = self.fapi.handle(request, now);
        let latency_ms = handled.latency_ms.unwrap_or(self.latency_ms);
        if latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(latency_ms)).await;
        }
        let result = match handled.exchange {
            Exchange::Answered(response) => Ok(response),
            Exchange::Dropped { committed: false } => Err(TransportError::DroppedBeforeCommit),
            Exchange::Dropped { committed: true } => Err(TransportError::DroppedAfterCommit),
        };
        Delivery { result, fault: handled.fault, latency_ms }
    }
}
