use super::*;

/// A peer that sends `parts` one read at a time, then closes.
struct Parts {
    buf: BytesMut,
    parts: std::collections::VecDeque<&'static [u8]>,
    reads: usize,
}

impl Parts {
    fn new(parts: &[&'static [u8]]) -> Parts {
        Parts { buf: BytesMut::new(), parts: parts.iter().copied().collect(), reads: 0 }
    }
}

impl Source for Parts {
    fn buffer(&mut self) -> &mut BytesMut {
        &mut self.buf
    }
    async fn fill(&mut self) -> Result<usize, Error> {
        self.reads += 1;
        let part = self.parts.pop_front().unwrap_or_default();
        self.buf.extend_from_slice(part);
        Ok(part.len())
    }
}

/// Runs a future that never waits on anything but `Parts` (which is always ready).
fn ready<T>(f: impl Future<Output = T>) -> T {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("a test source never waits"),
    }
}

fn buffered(framing: BodyFraming, max: u64, parts: &[&'static [u8]]) -> (Result<Bytes, Error>, Parts) {
    let mut src = Parts::new(parts);
    let mut reader = BodyReader::new(framing, max);
    (ready(buffer(&mut reader, &mut src)), src)
}

#[test]
fn length_bodies_end_exactly_and_leave_the_next_request() {
    let (body, src) = buffered(BodyFraming::Length(11), 100, &[b"hello", b" wor", b"ldGET / HTTP/1.1\r\n"]);
    assert_eq!(body.unwrap(), &b"hello world"[..]);
    assert_eq!(&src.buf[..], b"GET / HTTP/1.1\r\n");
}

#[test]
fn a_length_body_buffered_whole_is_split_off_without_reading() {
    let mut src = Parts::new(&[]);
    src.buf.extend_from_slice(b"abcdef");
    let mut reader = BodyReader::new(BodyFraming::Length(4), 4);
    assert_eq!(ready(buffer(&mut reader, &mut src)).unwrap(), &b"abcd"[..]);
    assert_eq!((src.reads, &src.buf[..]), (0, &b"ef"[..]));
}

#[test]
fn chunked_bodies_decode_in_any_split() {
    let wire: &'static [u8] = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-t: 1\r\n\r\nNEXT";
    for at in 1..wire.len() {
        let (body, src) = buffered(BodyFraming::Chunked, 100, &[&wire[..at], &wire[at..]]);
        assert_eq!(body.unwrap(), &b"hello world"[..], "split at {at}");
        let rest: Vec<u8> = src.buf.iter().chain(src.parts.iter().flat_map(|p| p.iter())).copied().collect();
        assert_eq!(rest, b"NEXT");
    }
}

#[test]
fn limits_hold_for_every_framing() {
    // A declared length over the limit is refused before any byte is read.
    let (body, src) = buffered(BodyFraming::Length(101), 100, &[b"x"]);
    assert_eq!((body.unwrap_err(), src.reads), (TOO_LARGE, 0));
    let (body, _) = buffered(BodyFraming::Chunked, 4, &[b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"]);
    assert_eq!(body.unwrap_err(), TOO_LARGE);
    let (body, _) = buffered(BodyFraming::UntilClose, 4, &[b"abc", b"de"]);
    assert_eq!(body.unwrap_err(), TOO_LARGE);
    let (body, _) = buffered(BodyFraming::Chunked, 100, &[b"3\r\nabc\n0\r\n\r\n"]);
    assert_eq!(body.unwrap_err(), BAD_CHUNKED);
}

#[test]
fn only_until_close_bodies_may_end_with_the_connection() {
    let (body, _) = buffered(BodyFraming::UntilClose, 100, &[b"abc", b"de"]);
    assert_eq!(body.unwrap(), &b"abcde"[..]);
    assert_eq!(buffered(BodyFraming::Length(10), 100, &[b"abc"]).0.unwrap_err(), ENDED_EARLY);
    assert_eq!(buffered(BodyFraming::Chunked, 100, &[b"3\r\nabc\r\n"]).0.unwrap_err(), ENDED_EARLY);
    assert_eq!(buffered(BodyFraming::None, 100, &[b"abc"]).0.unwrap(), &b""[..]);
}

#[test]
fn discard_drops_small_bodies_and_gives_up_on_large_ones() {
    let mut src = Parts::new(&[b"4\r\nabcd\r\n", b"0\r\n\r\nGET"]);
    let mut reader = BodyReader::new(BodyFraming::Chunked, 100);
    assert_eq!(ready(discard(&mut reader, &mut src, 64)), Ok(true));
    assert_eq!(&src.buf[..], b"GET");
    let mut src = Parts::new(&[&[b'x'; 40], &[b'x'; 40], &[b'x'; 40]]);
    let mut reader = BodyReader::new(BodyFraming::Length(120), 1000);
    assert_eq!(ready(discard(&mut reader, &mut src, 64)), Ok(false));
    assert_eq!(src.reads, 2);
}

#[test]
fn steps_report_wire_and_data_apart() {
    let mut reader = BodyReader::new(BodyFraming::Chunked, 100);
    let wire = b"3\r\nabc\r\n0\r\n\r\n";
    let first = reader.step(wire).unwrap();
    let (s, e) = first.data.unwrap();
    assert_eq!(&wire[s..e], b"abc");
    assert!(first.consumed >= e && !first.done);
    let mut at = first.consumed;
    loop {
        let p = reader.step(&wire[at..]).unwrap();
        at += p.consumed;
        if p.done {
            break;
        }
    }
    assert_eq!((at, reader.seen()), (wire.len(), 3));
}

#[test]
fn already_buffered_takes_only_a_whole_length_body_within_the_limit() {
    let take = |framing, max, have: &[u8]| {
        let mut buf = BytesMut::from(have);
        let mut reader = BodyReader::new(framing, max);
        (already_buffered(&mut reader, &mut buf), buf, reader.seen())
    };
    // Whole: split off, the rest (the next answer) left, the bytes counted.
    let (body, rest, seen) = take(BodyFraming::Length(5), 10, b"helloHTTP");
    assert_eq!((body.as_deref(), &rest[..], seen), (Some(&b"hello"[..]), &b"HTTP"[..], 5));
    // Not all there, over the limit, or not a length: nothing taken, for `buffer` to read.
    for (framing, max) in [(BodyFraming::Length(6), 10), (BodyFraming::Length(5), 4), (BodyFraming::Chunked, 10)] {
        let (body, rest, seen) = take(framing, max, b"hello");
        assert_eq!((body, &rest[..], seen), (None, &b"hello"[..], 0), "{framing:?} max {max}");
    }
    let (body, rest, _) = take(BodyFraming::None, 10, b"next");
    assert_eq!((body.as_deref(), &rest[..]), (Some(&b""[..]), &b"next"[..]));
}
