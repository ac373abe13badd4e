//! Message events (reference section 8, with a non-blocking broadcast).

use p2p_msg::{Msg, MsgEvent, MsgEventKind, MsgEvents, MsgPipe, MsgReader, MsgWriter};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::{bounded, node};

fn ev(kind: MsgEventKind, code: u64, size: u32) -> MsgEvent {
    MsgEvent {
        kind,
        peer: node(9),
        protocol: "test".into(),
        code,
        size,
    }
}

#[tokio::test(start_paused = true)]
async fn reports_successful_reads_and_writes() {
    let events = MsgEvents::new(16);
    let mut sub = events.subscribe();
    let (a, b) = MsgPipe::pair();
    let a = events.wrap(a, node(9), "test");
    let b = events.wrap(b, node(9), "test");
    let (w, r) =
        bounded(async { tokio::join!(a.write_msg(Msg::new(3, vec![1, 2])), b.read_msg()) }).await;
    w.unwrap();
    r.unwrap();
    let mut got = vec![sub.recv().await.unwrap(), sub.recv().await.unwrap()];
    got.sort_by_key(|e| e.kind == MsgEventKind::Send);
    assert_eq!(
        got,
        [ev(MsgEventKind::Recv, 3, 2), ev(MsgEventKind::Send, 3, 2)]
    );
    assert_eq!(MsgEventKind::Send.to_string(), "msgsend");
    // Failures report nothing.
    a.get_ref().close();
    assert!(a.write_msg(Msg::new(1, vec![])).await.is_err());
    assert!(b.read_msg().await.is_err());
    assert_eq!(sub.try_recv().unwrap_err(), TryRecvError::Empty);
}

#[test]
fn never_blocks_and_lagging_subscribers_learn_how_many_they_missed() {
    let events = MsgEvents::new(2);
    // No subscriber: emitting is a no-op.
    events.emit(ev(MsgEventKind::Send, 0, 0));
    let mut sub = events.subscribe();
    for code in 1..=5 {
        events.emit(ev(MsgEventKind::Send, code, 0));
    }
    assert_eq!(sub.try_recv().unwrap_err(), TryRecvError::Lagged(3));
    assert_eq!(sub.try_recv().unwrap().code, 4);
    assert_eq!(sub.try_recv().unwrap().code, 5);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    events.emit(ev(MsgEventKind::Recv, 6, 0));
    drop(events);
    rt.block_on(async {
        assert_eq!(sub.recv().await.unwrap().code, 6);
        assert_eq!(sub.recv().await.unwrap_err(), RecvError::Closed);
    });
}
