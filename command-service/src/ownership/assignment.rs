//! The partitions in a consumer group member's assignment, as the group coordinator
//! describes them: the bytes of the consumer protocol's `Assignment` (Kafka's
//! `ConsumerProtocolAssignment`, versions 0 to 3, all with the same leading fields):
//!
//! ```text
//! version: int16
//! assigned_partitions: int32 count, then per topic:
//!     topic: int16 length + UTF-8, partitions: int32 count + int32 each
//! user_data: int32 length (-1: null) + bytes   (not needed here)
//! ```

/// Why an assignment's bytes do not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a group member's assignment does not read: {0}")]
pub struct AssignmentError(&'static str);

/// The partitions of `topic` in `bytes`; empty for an empty assignment (a member that
/// joined but holds nothing).
pub fn partitions_of(bytes: &[u8], topic: &str) -> Result<Vec<i32>, AssignmentError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let mut input = Reader(bytes);
    let version = input.i16()?;
    if !(0..=3).contains(&version) {
        return Err(AssignmentError("unknown version"));
    }
    let mut partitions = Vec::new();
    for _ in 0..input.count()? {
        let name = input.string()?;
        for _ in 0..input.count()? {
            let partition = input.i32()?;
            if name == topic {
                partitions.push(partition);
            }
        }
    }
    partitions.sort_unstable();
    Ok(partitions)
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], AssignmentError> {
        if self.0.len() < n {
            return Err(AssignmentError("cut short"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn i16(&mut self) -> Result<i16, AssignmentError> {
        Ok(i16::from_be_bytes(
            self.take(2)?.try_into().expect("two bytes"),
        ))
    }

    fn i32(&mut self) -> Result<i32, AssignmentError> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().expect("four bytes"),
        ))
    }

    /// An array's length: never negative, and never more items than bytes left.
    fn count(&mut self) -> Result<usize, AssignmentError> {
        let n = self.i32()?;
        if n < 0 || n as usize > self.0.len() {
            return Err(AssignmentError("bad array length"));
        }
        Ok(n as usize)
    }

    fn string(&mut self) -> Result<String, AssignmentError> {
        let n = self.i16()?;
        if n < 0 {
            return Err(AssignmentError("null topic"));
        }
        let bytes = self.take(n as usize)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| AssignmentError("topic not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes of an assignment of `topics`, as a coordinator sends them.
    fn encoded(version: i16, topics: &[(&str, &[i32])]) -> Vec<u8> {
        let mut out = version.to_be_bytes().to_vec();
        out.extend((topics.len() as i32).to_be_bytes());
        for (topic, partitions) in topics {
            out.extend((topic.len() as i16).to_be_bytes());
            out.extend(topic.as_bytes());
            out.extend((partitions.len() as i32).to_be_bytes());
            for p in *partitions {
                out.extend(p.to_be_bytes());
            }
        }
        out.extend((-1i32).to_be_bytes());
        out
    }

    #[test]
    fn the_partitions_of_the_topic_are_read_in_order_whatever_the_version() {
        for version in 0..=3 {
            let bytes = encoded(version, &[("orders.events", &[4, 1]), ("other", &[0, 2])]);
            assert_eq!(partitions_of(&bytes, "orders.events"), Ok(vec![1, 4]));
            assert_eq!(partitions_of(&bytes, "other"), Ok(vec![0, 2]));
            assert_eq!(partitions_of(&bytes, "absent"), Ok(vec![]));
        }
        assert_eq!(partitions_of(&[], "orders.events"), Ok(vec![]));
    }

    #[test]
    fn bytes_that_are_not_an_assignment_are_refused_never_a_panic() {
        let good = encoded(0, &[("orders.events", &[0, 1, 2])]);
        for cut in 1..good.len() - 4 {
            assert!(
                partitions_of(&good[..cut], "orders.events").is_err(),
                "cut at {cut}"
            );
        }
        assert!(
            partitions_of(&encoded(9, &[]), "t").is_err(),
            "unknown version"
        );
        let mut huge = encoded(0, &[]);
        huge[2..6].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(partitions_of(&huge, "t").is_err(), "a count past the bytes");
    }
}
