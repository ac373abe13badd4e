//! Unit tests of the reverse header scheduler: linking order, liars, garbage, short replies, forks, and a
//! property over arbitrary replies.

use super::*;
use crate::NoValidation;
use crate::test_chain::chain;

/// Headers `top` down to `top - count + 1`, as a peer answers a reverse request.
fn falling(c: &[SealedHeader], top: u64, count: u64) -> Vec<Header> {
    (0..count)
        .map(|i| c[(top - i) as usize].header().clone())
        .collect()
}

fn canonical(local: &[SealedHeader]) -> impl Fn(u64) -> Result<Option<SealedHeader>, Error> + '_ {
    move |n| Ok(local.get(n as usize).cloned())
}

fn tops(asks: &[(String, Ask)]) -> Vec<u64> {
    asks.iter()
        .map(|(_, a)| match a {
            Ask::Headers(HeaderJob::Reverse { top }, _) => *top,
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[test]
fn batches_link_in_order_whatever_order_they_arrive_in() {
    let c = chain(31, 1);
    let local = &c[..1];
    let mut r = Reverse::new(c[30].hash(), 0, 10, 100);
    let peers = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
    let (_, head) = r.head_ask(&peers).unwrap();
    assert!(matches!(head, Ask::Headers(HeaderJob::Head, _)));
    assert_eq!(
        r.on_head(vec![c[30].header().clone()]),
        Ok(Verdict::Accepted)
    );
    let asks = r.asks(&peers, |_, _| true);
    assert_eq!(tops(&asks), [29, 19, 9]);
    assert_eq!(r.on_reverse("c", 9, falling(&c, 9, 9)), Verdict::Accepted);
    assert_eq!(
        r.on_reverse("b", 19, falling(&c, 19, 10)),
        Verdict::Accepted
    );
    let linked = r.link_ready(&NoValidation, canonical(local)).unwrap();
    assert_eq!(linked.batches.len(), 1, "only the head so far");
    assert!(!r.finished());
    assert_eq!(r.unlinked(), 19);
    r.on_reverse("a", 29, falling(&c, 29, 10));
    let linked = r.link_ready(&NoValidation, canonical(local)).unwrap();
    let numbers: Vec<(u64, u64)> = linked
        .batches
        .iter()
        .map(|b| (b[0].number, b[b.len() - 1].number))
        .collect();
    assert_eq!(numbers, [(20, 29), (10, 19), (1, 9)]);
    assert!(linked.liars.is_empty());
    assert_eq!(r.link(), Some(0));
    assert!(r.finished());
}

#[test]
fn a_batch_that_does_not_link_is_thrown_away_and_not_asked_of_its_sender_again() {
    let c = chain(21, 1);
    let other = chain(21, 2);
    let mut r = Reverse::new(c[20].hash(), 0, 10, 100);
    r.on_head(vec![c[20].header().clone()]).unwrap();
    let liar = ["liar".to_owned()];
    assert_eq!(tops(&r.asks(&liar, |_, _| true)), [19]);
    assert_eq!(
        r.on_reverse("liar", 19, falling(&other, 19, 10)),
        Verdict::Accepted
    );
    let linked = r.link_ready(&NoValidation, canonical(&c[..1])).unwrap();
    assert_eq!(linked.liars, ["liar"]);
    // The liar gets the other batch only; an honest peer gets the re-queued one.
    assert_eq!(tops(&r.asks(&liar, |_, _| true)), [9]);
    assert_eq!(tops(&r.asks(&["honest".to_owned()], |_, _| true)), [19]);
}

#[test]
fn garbage_strikes_empty_lacks_and_short_replies_are_kept() {
    let c = chain(21, 1);
    let mut r = Reverse::new(c[20].hash(), 0, 10, 100);
    r.on_head(vec![c[20].header().clone()]).unwrap();
    r.asks(&["a".to_owned(), "b".to_owned()], |_, _| true);
    let mut rising = falling(&c, 19, 10);
    rising.reverse();
    assert_eq!(r.on_reverse("a", 19, rising), Verdict::Strike);
    assert_eq!(r.on_reverse("b", 9, vec![]), Verdict::Lacking);
    assert_eq!(r.on_reverse("b", 19, falling(&c, 19, 4)), Verdict::Accepted);
    // The rest of the short batch is a task of its own.
    assert_eq!(
        tops(&r.asks(&["c".to_owned(), "d".to_owned()], |_, _| true)),
        [15, 9]
    );
    assert_eq!(
        r.on_reverse("a", 19, falling(&c, 19, 11)),
        Verdict::Accepted,
        "stale"
    );
}

#[test]
fn a_wrong_head_is_a_lie_and_a_missing_head_is_lacking() {
    let c = chain(5, 1);
    let mut r = Reverse::new(c[4].hash(), 0, 10, 100);
    assert_eq!(r.on_head(vec![]), Ok(Verdict::Lacking));
    assert!(r.on_head(vec![c[3].header().clone()]).is_err());
    assert!(!r.head_exhausted(["a".to_owned()].iter()));
    r.head_ask(&["a".to_owned()]);
    assert!(r.head_exhausted(["a".to_owned()].iter()));
}

#[test]
fn a_fork_below_the_local_head_goes_on_towards_genesis() {
    let local = chain(15, 1);
    // The trusted chain shares blocks 0..=5 with the local one.
    let mut trusted = local[..6].to_vec();
    for n in 6..20 {
        let parent_hash = trusted[n - 1].hash();
        trusted.push(
            Header {
                number: n as u64,
                parent_hash,
                gas_limit: 9,
                ..Header::default()
            }
            .seal(),
        );
    }
    let mut r = Reverse::new(trusted[19].hash(), 14, 10, 100);
    r.on_head(vec![trusted[19].header().clone()]).unwrap();
    let p = ["p".to_owned()];
    assert_eq!(tops(&r.asks(&p, |_, _| true)), [18]);
    r.on_reverse("p", 18, falling(&trusted, 18, 4));
    r.link_ready(&NoValidation, canonical(&local)).unwrap();
    assert!(!r.finished());
    assert_eq!(
        tops(&r.asks(&p, |_, _| true)),
        [14],
        "below the local head now"
    );
    r.on_reverse("p", 14, falling(&trusted, 14, 10));
    let linked = r.link_ready(&NoValidation, canonical(&local)).unwrap();
    assert_eq!(r.link(), Some(5));
    let last = linked.batches.last().unwrap();
    assert_eq!(
        last.first().map(|h| h.number),
        Some(6),
        "stops at the fork point"
    );
}

proptest::proptest! {
    /// Whatever peers answer, the scheduler never panics and never links a header that is not the trusted
    /// chain's; honest answers afterwards always finish the download.
    #[test]
    fn replies_never_panic_and_only_the_trusted_chain_links(
        ops in proptest::collection::vec((0usize..3, 0u8..7, 0u64..12), 0..60),
    ) {
        let c = chain(40, 1);
        let other = chain(40, 2);
        let local = &c[..1];
        let mut r = Reverse::new(c[39].hash(), 0, 8, 24);
        r.on_head(vec![c[39].header().clone()]).unwrap();
        let peers = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let mut staged: Vec<SealedHeader> = Vec::new();
        let check = |linked: Linked, staged: &mut Vec<SealedHeader>| {
            for batch in linked.batches {
                for h in batch {
                    assert_eq!(h.hash(), c[h.number as usize].hash(), "only trusted headers link");
                    staged.push(h);
                }
            }
        };
        let mut open: Vec<(String, u64, u64)> = Vec::new();
        for (peer, kind, param) in ops {
            for (p, ask) in r.asks(&peers, |_, _| true) {
                if let Ask::Headers(HeaderJob::Reverse { top }, req) = ask {
                    open.push((p, top, req.amount));
                }
            }
            if open.is_empty() {
                break;
            }
            let (p, top, amount) = open.remove(peer % open.len());
            let reply: Vec<Header> = match kind {
                0 => falling(&c, top, amount),
                1 => falling(&c, top, amount.min(param.max(1))),
                2 => vec![],
                3 => {
                    let mut v = falling(&c, top, amount);
                    v.reverse();
                    v
                }
                4 => falling(&other, top, amount),
                5 => (0..param).map(|i| Header { number: i, ..Header::default() }).collect(),
                _ => {
                    let mut v = falling(&c, top, amount);
                    let i = (param as usize) % v.len();
                    v[i].gas_limit += 1;
                    v
                }
            };
            r.on_reverse(&p, top, reply);
            let linked = r.link_ready(&NoValidation, canonical(local)).unwrap();
            check(linked, &mut staged);
        }
        // Honest answers from a fresh peer finish the download.
        let fresh = ["honest".to_owned()];
        for _ in 0..100 {
            if r.finished() {
                break;
            }
            for (_, top, _) in open.drain(..) {
                r.requeue(HeaderJob::Reverse { top });
            }
            for (_, ask) in r.asks(&fresh, |_, _| true) {
                if let Ask::Headers(HeaderJob::Reverse { top }, req) = ask {
                    r.on_reverse("honest", top, falling(&c, top, req.amount));
                }
            }
            let linked = r.link_ready(&NoValidation, canonical(local)).unwrap();
            check(linked, &mut staged);
        }
        assert!(r.finished());
        assert_eq!(r.link(), Some(0));
        let mut numbers: Vec<u64> = staged.iter().map(|h| h.number).collect();
        numbers.sort_unstable();
        assert_eq!(numbers, (1..=39).collect::<Vec<_>>(), "every header staged once");
    }
}

/// Records the number of every header it is asked about.
#[derive(Debug, Default)]
struct Recording(std::sync::Mutex<Vec<u64>>);

impl HeaderValidator for Recording {
    fn validate(&self, header: &SealedHeader, _parent: &SealedHeader) -> Result<(), &'static str> {
        self.0.lock().unwrap().push(header.number);
        Ok(())
    }
}

#[test]
fn validation_is_sampled_but_always_covers_the_head_and_the_link() {
    let c = chain(31, 1);
    for (every, expected) in [
        (1, (1..=30).rev().collect::<Vec<u64>>()),
        (7, vec![30, 28, 21, 14, 7, 1]),
    ] {
        let mut r = Reverse::new(c[30].hash(), 0, 10, 100);
        r.set_check_frequency(every);
        r.on_head(vec![c[30].header().clone()]).unwrap();
        for top in tops(
            &r.asks(&["a".to_owned(), "b".to_owned(), "c".to_owned()], |_, _| {
                true
            }),
        ) {
            let count = if top == 9 { 9 } else { 10 };
            r.on_reverse("a", top, falling(&c, top, count));
        }
        let v = Recording::default();
        r.link_ready(&v, canonical(&c[..1])).unwrap();
        assert_eq!(r.link(), Some(0));
        // The link (header 1 on the local genesis) is checked where it is found, after its batch's samples.
        let mut seen = v.0.into_inner().unwrap();
        seen.dedup();
        assert_eq!(seen, expected, "every {every}");
    }
}
