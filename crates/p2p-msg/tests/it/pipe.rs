//! `MsgPipe` (reference section 5-6 and `p2p/message_test.go`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use p2p_msg::{Error, Msg, MsgPipe, MsgReader, MsgWriter, send_items};
use tokio::time::{Instant, sleep, timeout};

use crate::{L, bounded};

/// `ExampleMsgPipe`: two messages in order, then the close, which comes only after both were
/// taken.
#[tokio::test(start_paused = true)]
async fn example_msg_pipe() {
    let (rw1, rw2) = MsgPipe::pair();
    let writer = async move {
        p2p_msg::send(&rw1, 8, &L(&[0, 0])).await.unwrap();
        p2p_msg::send(&rw1, 5, &L(&[1, 1])).await.unwrap();
        rw1.close();
    };
    let reader = async {
        let mut lines = Vec::new();
        loop {
            match rw2.read_msg().await {
                Ok(msg) => {
                    let v = msg.decode::<crate::Ints>().unwrap().0;
                    let digits: String = v.iter().map(|x| format!("{x:02}")).collect();
                    lines.push(format!("msg: {}, {}", msg.code, digits));
                }
                Err(e) => {
                    assert!(e.is_pipe_closed());
                    break;
                }
            }
        }
        lines
    };
    let ((), lines) = bounded(async { tokio::join!(writer, reader) }).await;
    assert_eq!(lines, ["msg: 8, 0000", "msg: 5, 0101"]);
}

/// `TestMsgPipeUnblockWrite`: a write nobody reads fails with exactly `PipeClosed` soon after
/// the other end is closed.
#[tokio::test(start_paused = true)]
async fn unblock_write_on_close_of_other_end() {
    for _ in 0..100 {
        let (rw1, rw2) = MsgPipe::pair();
        let rw1 = Arc::new(rw1);
        let w = rw1.clone();
        let task = tokio::spawn(async move { send_items::<_, u64>(&*w, 1, &[]).await });
        sleep(Duration::from_millis(1)).await;
        let closed_at = Instant::now();
        rw2.close();
        let r = timeout(Duration::from_millis(200), task)
            .await
            .expect("write not unblocked within 200 ms")
            .unwrap();
        assert!(matches!(r, Err(Error::PipeClosed)));
        assert!(closed_at.elapsed() < Duration::from_millis(200));
    }
}

/// `TestMsgPipeConcurrentClose`: many concurrent closes of one end do not panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_close() {
    let (rw1, rw2) = MsgPipe::pair();
    let rw1 = Arc::new(rw1);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let rw1 = rw1.clone();
        tasks.push(tokio::spawn(async move { rw1.close() }));
    }
    for t in tasks {
        bounded(t).await.unwrap();
    }
    assert!(rw1.is_closed() && rw2.is_closed());
    assert!(rw2.read_msg().await.unwrap_err().is_pipe_closed());
}

#[tokio::test(start_paused = true)]
async fn pending_reads_and_later_ops_fail_on_both_ends() {
    let (a, b) = MsgPipe::pair();
    let (a, b) = (Arc::new(a), Arc::new(b));
    let ra = tokio::spawn({
        let a = a.clone();
        async move { a.read_msg().await }
    });
    let rb = tokio::spawn({
        let b = b.clone();
        async move { b.read_msg().await }
    });
    sleep(Duration::from_millis(5)).await;
    a.close();
    a.close(); // idempotent
    assert!(bounded(ra).await.unwrap().unwrap_err().is_pipe_closed());
    assert!(bounded(rb).await.unwrap().unwrap_err().is_pipe_closed());
    for end in [&a, &b] {
        assert!(end.read_msg().await.unwrap_err().is_pipe_closed());
        let w = end.write_msg(Msg::new(1, Bytes::new())).await;
        assert!(w.unwrap_err().is_pipe_closed());
    }
}

#[tokio::test(start_paused = true)]
async fn dropping_an_end_closes_the_pipe() {
    let (a, b) = MsgPipe::pair();
    let pending = tokio::spawn(async move { a.read_msg().await.map(|_| ()) });
    sleep(Duration::from_millis(1)).await;
    drop(b);
    assert!(
        bounded(pending)
            .await
            .unwrap()
            .unwrap_err()
            .is_pipe_closed()
    );
}

/// A write whose message was taken succeeds even if the pipe closes right after.
#[tokio::test(start_paused = true)]
async fn taken_write_succeeds_despite_close() {
    for _ in 0..50 {
        let (a, b) = MsgPipe::pair();
        let a = Arc::new(a);
        let w = a.clone();
        let writer = tokio::spawn(async move { w.write_msg(Msg::new(3, vec![0xc0])).await });
        let msg = bounded(b.read_msg()).await.unwrap();
        b.close();
        assert_eq!(msg.code, 3);
        bounded(writer).await.unwrap().unwrap();
    }
}

/// A write whose message was not yet taken fails on close, and the message is not delivered.
#[tokio::test(start_paused = true)]
async fn untaken_write_fails_and_is_not_delivered() {
    let (a, b) = MsgPipe::pair();
    let a = Arc::new(a);
    let w = a.clone();
    let writer = tokio::spawn(async move { w.write_msg(Msg::new(3, vec![0xc0])).await });
    sleep(Duration::from_millis(1)).await;
    a.close();
    assert!(bounded(writer).await.unwrap().unwrap_err().is_pipe_closed());
    assert!(b.read_msg().await.unwrap_err().is_pipe_closed());
}

/// Writes block until taken: back-pressure, no buffer.
#[tokio::test(start_paused = true)]
async fn write_waits_for_reader() {
    let (a, b) = MsgPipe::pair();
    let a = Arc::new(a);
    let w = a.clone();
    let started = Instant::now();
    let writer = tokio::spawn(async move {
        w.write_msg(Msg::new(1, vec![0xc0])).await.unwrap();
        Instant::now()
    });
    sleep(Duration::from_secs(3)).await;
    assert!(!writer.is_finished());
    let _ = b.read_msg().await.unwrap();
    let done = bounded(writer).await.unwrap();
    assert!(done - started >= Duration::from_secs(3));
}

/// A cancelled write withdraws its message.
#[tokio::test(start_paused = true)]
async fn cancelled_write_is_withdrawn() {
    let (a, b) = MsgPipe::pair();
    let r = timeout(
        Duration::from_millis(10),
        a.write_msg(Msg::new(1, vec![0xc0])),
    )
    .await;
    assert!(r.is_err());
    assert!(
        timeout(Duration::from_millis(10), b.read_msg())
            .await
            .is_err()
    );
    // The pipe still works.
    let (w, r) =
        bounded(async { tokio::join!(a.write_msg(Msg::new(2, vec![])), b.read_msg()) }).await;
    w.unwrap();
    assert_eq!(r.unwrap().code, 2);
}

/// Many writers and readers on the same ends: every message is delivered exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_and_readers() {
    let (a, b) = MsgPipe::pair();
    let (a, b) = (Arc::new(a), Arc::new(b));
    let mut writers = Vec::new();
    for w in 0..4u64 {
        let a = a.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..250u64 {
                a.write_msg(Msg::new(w * 1000 + i, vec![])).await.unwrap();
            }
        }));
    }
    let mut readers = Vec::new();
    for _ in 0..2 {
        let b = b.clone();
        readers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Ok(m) = b.read_msg().await {
                got.push(m.code);
            }
            got
        }));
    }
    for w in writers {
        bounded(w).await.unwrap();
    }
    a.close();
    let mut all = Vec::new();
    for r in readers {
        all.extend(bounded(r).await.unwrap());
    }
    all.sort_unstable();
    let want: Vec<u64> = (0..4u64)
        .flat_map(|w| (0..250).map(move |i| w * 1000 + i))
        .collect();
    assert_eq!(all, want);
}

/// The payload budget (`TestEOFSignal` by behaviour): readers see at most `size` bytes.
#[tokio::test(start_paused = true)]
async fn payload_budget() {
    let cases: [(u32, &[u8], &[u8]); 4] = [
        // Empty budget: nothing to read.
        (0, b"abcd", b""),
        // Budget reached before the data ends.
        (4, b"abcdefgh", b"abcd"),
        // Data ends before the budget.
        (10, b"abcd", b"abcd"),
        // Neither.
        (10, b"abcdefghij", b"abcdefghij"),
    ];
    let (a, b) = MsgPipe::pair();
    for (size, payload, want) in cases {
        let mut m = Msg::new(1, Bytes::from_static(payload));
        m.size = size;
        let (w, r) = bounded(async { tokio::join!(a.write_msg(m), b.read_msg()) }).await;
        w.unwrap();
        assert_eq!(r.unwrap().data(), want);
    }
}

/// Close racing with writes and reads on two threads: a write succeeds exactly when its
/// message was delivered to a reader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_race_delivery_matches_write_results() {
    for round in 0..200u64 {
        let (a, b) = MsgPipe::pair();
        let (a, b) = (Arc::new(a), Arc::new(b));
        let writers: Vec<_> = (0..3u64)
            .map(|w| {
                let a = a.clone();
                tokio::spawn(async move {
                    let mut ok = Vec::new();
                    for i in 0..20u64 {
                        let code = w * 100 + i;
                        match a.write_msg(Msg::new(code, vec![])).await {
                            Ok(()) => ok.push(code),
                            Err(e) => {
                                assert!(e.is_pipe_closed());
                                break;
                            }
                        }
                    }
                    ok
                })
            })
            .collect();
        let reader = tokio::spawn({
            let b = b.clone();
            async move {
                let mut got = Vec::new();
                while let Ok(m) = b.read_msg().await {
                    got.push(m.code);
                }
                got
            }
        });
        for _ in 0..(round % 7) {
            tokio::task::yield_now().await;
        }
        if round % 2 == 0 {
            a.close();
        } else {
            b.close();
        }
        let mut written = Vec::new();
        for w in writers {
            written.extend(bounded(w).await.unwrap());
        }
        let mut got = bounded(reader).await.unwrap();
        written.sort_unstable();
        got.sort_unstable();
        assert_eq!(written, got, "round {round}");
    }
}
