//! Reading a request body within a size limit and a deadline.
//!
//! A body announced larger than the limit (`Content-Length`) is refused
//! before a byte of it is read; a chunked body is counted as it streams in
//! (`http_body_util::Limited`) and refused as soon as it passes the limit.

use std::error::Error as StdError;

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Body;
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

/// Collects `body`, at most `limit` bytes, before `deadline`.
pub async fn collect<B>(body: B, limit: usize, deadline: Instant) -> Result<Bytes, BodyError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    // For a `Content-Length` body hyper's size hint is exact.
    if body.size_hint().lower() > limit as u64 {
        return Err(BodyError::TooLarge);
    }
    match tokio::time::timeout_at(deadline, Limited::new(body, limit).collect()).await {
        Err(_) => Err(BodyError::TimedOut),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(err)) if err.downcast_ref::<LengthLimitError>().is_some() => Err(BodyError::TooLarge),
        Ok(Err(err)) => Err(BodyError::Read(err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use http_body_util::Full;
    use hyper::body::Frame;

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

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
        assert!(matches!(collect(body.clone(), 10, soon()).await, Ok(bytes) if bytes.len() == 10));
        assert!(matches!(collect(body, 9, soon()).await, Err(BodyError::TooLarge)));

        let streamed = Chunked(vec![Some(b"abc"); 3]);
        assert!(matches!(collect(streamed, 9, soon()).await, Ok(bytes) if bytes.len() == 9));
        let streamed = Chunked(vec![Some(b"abc"); 4]);
        assert!(matches!(collect(streamed, 10, soon()).await, Err(BodyError::TooLarge)));
    }

    #[tokio::test(start_paused = true)]
    async fn deadline() {
        let stalled = Chunked(vec![Some(b"abc"), None]);
        let result = collect(stalled, 10, Instant::now() + Duration::from_millis(500)).await;
        assert!(matches!(result, Err(BodyError::TimedOut)));
    }
}
