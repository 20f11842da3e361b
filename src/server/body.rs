//! Reading a request body within a size limit and a deadline.
//!
//! A body announced larger than the limit (`Content-Length`) is refused
//! before a byte of it is read; a chunked body is counted as it streams in
//! (`http_body_util::Limited`) and refused as soon as it passes the limit.

use std::error::Error as StdError;

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Body;
use std::future::Future;
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Larger than the limit (413).
    TooLarge,
    /// Not complete by the deadline.
    TimedOut,
    /// The connection failed or the framing was broken.
    Read(Box<dyn StdError + Send + Sync>),
}

/// Collects `body`, at most `limit` bytes, within `budget` of `started`.
///
/// A callback body is small and usually arrives with its headers, so the
/// body is first polled once as it is: only a body still on its way gets a
/// timer for the deadline (registering one, and reading the clock for it,
/// cost more than the rest of the shell).
pub async fn collect<B>(
    body: B,
    limit: usize,
    started: std::time::Instant,
    budget: Duration,
) -> Result<Bytes, BodyError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    // For a `Content-Length` body hyper's size hint is exact.
    if body.size_hint().lower() > limit as u64 {
        return Err(BodyError::TooLarge);
    }
    let mut collecting = std::pin::pin!(Limited::new(body, limit).collect());
    let first = std::future::poll_fn(|cx| Poll::Ready(collecting.as_mut().poll(cx))).await;
    let collected = match first {
        Poll::Ready(collected) => collected,
        Poll::Pending => {
            let deadline = Instant::from_std(started) + budget;
            match tokio::time::timeout_at(deadline, collecting).await {
                Err(_) => return Err(BodyError::TimedOut),
                Ok(collected) => collected,
            }
        }
    };
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(BodyError::TooLarge),
        Err(err) => Err(BodyError::Read(err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::Context;

    use http_body_util::Full;
    use hyper::body::Frame;

    fn now() -> std::time::Instant {
        std::time::Instant::now()
    }

    const SOON: Duration = Duration::from_secs(5);

    /// A body of chunks with no size hint, like a chunked request; `None`
    /// chunks never arrive.
    struct Chunked(Vec<Option<&'static [u8]>>);

    impl Body for Chunked {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            if self.0.is_empty() {
                return Poll::Ready(None);
            }
            match self.0[0] {
                Some(chunk) => {
                    self.0.remove(0);
                    Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(chunk)))))
                }
                None => Poll::Pending,
            }
        }
    }

    #[tokio::test]
    async fn limits() {
        let body = Full::new(Bytes::from_static(b"0123456789"));
        assert!(matches!(collect(body.clone(), 10, now(), SOON).await, Ok(bytes) if bytes.len() == 10));
        assert!(matches!(collect(body, 9, now(), SOON).await, Err(BodyError::TooLarge)));

        let streamed = Chunked(vec![Some(b"abc"); 3]);
        assert!(matches!(collect(streamed, 9, now(), SOON).await, Ok(bytes) if bytes.len() == 9));
        let streamed = Chunked(vec![Some(b"abc"); 4]);
        assert!(matches!(collect(streamed, 10, now(), SOON).await, Err(BodyError::TooLarge)));
    }

    #[tokio::test(start_paused = true)]
    async fn deadline() {
        let stalled = Chunked(vec![Some(b"abc"), None]);
        let result = collect(stalled, 10, now(), Duration::from_millis(500)).await;
        assert!(matches!(result, Err(BodyError::TimedOut)));
    }
}
