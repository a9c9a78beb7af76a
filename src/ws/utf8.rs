//! Incremental UTF-8 validation for text messages that arrive in pieces (fragments, or a frame
//! read part by part): invalid bytes are found as soon as they arrive (§8.1: fail fast, close
//! 1007), and a character split across pieces is carried over.
//!
//! Cost: `std::str::from_utf8` over each piece (SIMD-fast on ASCII), at most 3 bytes carried.

#[derive(Debug, Default, Clone, Copy)]
pub struct Validator {
    carry: [u8; 4],
    carried: u8,
}

/// Bytes of the sequence a valid lead byte starts.
fn sequence_len(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

impl Validator {
    /// Whether `piece`, following what came before, is still valid UTF-8 or a valid prefix of it.
    pub fn feed(&mut self, mut piece: &[u8]) -> bool {
        if self.carried > 0 {
            let have = self.carried as usize;
            let need = sequence_len(self.carry[0]) - have;
            let take = need.min(piece.len());
            self.carry[have..have + take].copy_from_slice(&piece[..take]);
            self.carried += take as u8;
            piece = &piece[take..];
            match std::str::from_utf8(&self.carry[..self.carried as usize]) {
                Ok(_) => self.carried = 0,
                // Still a valid prefix: wait for the rest.
                Err(e) if e.error_len().is_none() && take < need => return true,
                Err(_) => return false,
            }
        }
        match std::str::from_utf8(piece) {
            Ok(_) => true,
            Err(e) => match e.error_len() {
                Some(_) => false,
                None => {
                    let tail = &piece[e.valid_up_to()..];
                    self.carry[..tail.len()].copy_from_slice(tail);
                    self.carried = tail.len() as u8;
                    true
                }
            },
        }
    }

    /// Whether the text ended on a whole character.
    pub fn is_complete(&self) -> bool {
        self.carried == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces_valid(bytes: &[u8], cuts: &[usize]) -> bool {
        let mut v = Validator::default();
        let mut at = 0;
        for &c in cuts.iter().chain([bytes.len()].iter()) {
            if !v.feed(&bytes[at..c]) {
                return false;
            }
            at = c;
        }
        v.is_complete()
    }

    /// Every way of cutting a text in two or three gives what validating it whole gives.
    #[test]
    fn agrees_with_whole_validation_at_every_cut() {
        let samples: [&[u8]; 8] = [
            "κόσμε".as_bytes(),
            "Hello-µ@ßöäüàá-UTF-8!!".as_bytes(),
            "\u{10FFFF}\u{FFFF}x".as_bytes(),
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            b"\xf4\x90\x80\x80",
            b"\xc0\xaf",
            b"ab\xe0\x80",
            b"\xf0\x9f\x98",
        ];
        for s in samples {
            let whole = std::str::from_utf8(s).is_ok();
            for a in 0..=s.len() {
                assert_eq!(pieces_valid(s, &[a]), whole, "{s:x?} cut {a}");
                for b in a..=s.len() {
                    assert_eq!(pieces_valid(s, &[a, b]), whole, "{s:x?} cuts {a},{b}");
                }
            }
        }
    }

    /// Fail fast: an invalid byte is refused in the piece that brings it, not at the end.
    #[test]
    fn fails_in_the_piece_that_is_invalid() {
        let mut v = Validator::default();
        assert!(v.feed("κόσμε".as_bytes()));
        assert!(v.feed(b"\xce"));
        assert!(!v.feed(b"\xff"));
        let mut v = Validator::default();
        assert!(v.feed(b"\xed"));
        assert!(!v.feed(b"\xa0"), "a surrogate is refused at its second byte");
    }
}
