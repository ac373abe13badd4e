//! Property tests: round trips of the wire types and "arbitrary bytes never panic" for every
//! decoder.

use bytes::Bytes;
use p2p_msg::mux::SharedCap;
use p2p_msg::{Cap, DisconnectReason, Hello, Msg, MsgPipe, MsgReader, MsgWriter, NodeId};
use proptest::prelude::*;

fn cap() -> impl Strategy<Value = Cap> {
    ("[a-z]{0,8}", any::<u32>()).prop_map(|(n, v)| Cap::new(n, v))
}

fn hello() -> impl Strategy<Value = Hello> {
    (
        any::<u64>(),
        ".{0,40}",
        prop::collection::vec(cap(), 0..8),
        any::<u64>(),
        prop::array::uniform32(any::<u8>()),
        prop::array::uniform32(any::<u8>()),
    )
        .prop_map(|(version, client_id, caps, listen_port, a, b)| {
            let mut id = [0u8; 64];
            id[..32].copy_from_slice(&a);
            id[32..].copy_from_slice(&b);
            Hello {
                version,
                client_id,
                caps,
                listen_port,
                id: NodeId(id),
            }
        })
}

proptest! {
    #[test]
    fn msg_round_trip_through_pipe(code in any::<u64>(), payload in prop::collection::vec(any::<u8>(), 0..512)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let msg = Msg::new(code, payload.clone());
        prop_assert_eq!(msg.size as usize, payload.len());
        let got = rt.block_on(async {
            let (a, b) = MsgPipe::pair();
            let (w, r) = tokio::join!(a.write_msg(msg.clone()), b.read_msg());
            w.unwrap();
            r.unwrap()
        });
        prop_assert_eq!(&got, &msg);
        prop_assert_eq!(got.to_string(), format!("msg #{} ({} bytes)", code, payload.len()));
    }

    #[test]
    fn msg_encode_decode_round_trip(code in any::<u64>(), v in any::<u64>(), s in prop::collection::vec(any::<u8>(), 0..300)) {
        prop_assert_eq!(Msg::encode(code, &v).decode::<u64>().unwrap(), v);
        prop_assert_eq!(Msg::encode(code, &s).decode::<Vec<u8>>().unwrap(), s);
    }

    #[test]
    fn hello_round_trip(h in hello()) {
        let payload = h.encode_payload();
        prop_assert_eq!(&Hello::decode_payload(&payload).unwrap(), &h);
        prop_assert_eq!(Msg::new(0, payload).decode::<Hello>().unwrap(), h);
    }

    #[test]
    fn hello_ignores_extra_elements(h in hello(), extra in prop::collection::vec(any::<u64>(), 0..4)) {
        let mut s = rlp::RlpStream::new_list(5 + extra.len());
        s.append(&h.version);
        s.append(&h.client_id);
        s.append_list(&h.caps);
        s.append(&h.listen_port);
        s.append(&h.id);
        for e in &extra {
            s.append(e);
        }
        prop_assert_eq!(Hello::decode_payload(&s.out()).unwrap(), h);
    }

    #[test]
    fn disconnect_round_trip(i in 0usize..DisconnectReason::ALL.len(), trailing in prop::collection::vec(any::<u8>(), 0..4)) {
        let r = DisconnectReason::ALL[i];
        prop_assert_eq!(DisconnectReason::decode_payload(&r.encode_payload()), Ok(r));
        // The bare form.
        let bare = rlp::encode(&r.code()).to_vec();
        prop_assert_eq!(DisconnectReason::decode_payload(&bare), Ok(r));
        // Trailing bytes after the first item are ignored.
        let mut p = r.encode_payload();
        p.extend_from_slice(&trailing);
        prop_assert_eq!(DisconnectReason::decode_payload(&p), Ok(r));
    }

    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = Hello::decode_payload(&bytes);
        let _ = DisconnectReason::decode_payload(&bytes);
        let m = Msg::new(0, Bytes::from(bytes.clone()));
        let _ = m.decode::<Hello>();
        let _ = m.decode::<Cap>();
        let _ = m.decode::<NodeId>();
        let _ = m.decode::<u64>();
        let _ = m.decode::<Vec<u8>>();
        let _ = std::str::from_utf8(&bytes).map(|s| s.parse::<NodeId>());
    }

    #[test]
    fn decoders_never_panic_on_rlp_like_input(h in hello(), cut in any::<prop::sample::Index>(), flip in any::<prop::sample::Index>(), x in any::<u8>()) {
        // Mutate a valid Hello: truncate, or change one byte.
        let p = h.encode_payload();
        let truncated = &p[..cut.index(p.len() + 1)];
        let _ = Hello::decode_payload(truncated);
        let mut q = p.clone();
        let i = flip.index(q.len());
        q[i] = x;
        let _ = Hello::decode_payload(&q);
        let _ = DisconnectReason::decode_payload(&q);
    }

    #[test]
    fn matching_invariants(local in prop::collection::vec((cap(), 1u64..20), 0..8), remote in prop::collection::vec(cap(), 0..8)) {
        let protos: Vec<p2p_msg::Protocol> = local
            .iter()
            .map(|(c, len)| p2p_msg::Protocol::new(c.name.clone(), c.version, *len, |_, _| async { Ok(()) }))
            .collect();
        let shared: Vec<SharedCap> = p2p_msg::mux::match_protocols(&protos, &remote);
        // Offsets are compact from 0x10, in name order, one entry per name, each shared by both.
        let mut next = 16;
        let mut last: Option<String> = None;
        for s in &shared {
            prop_assert_eq!(s.offset, next);
            next += s.length;
            prop_assert!(last.as_ref().is_none_or(|l| *l < s.cap.name));
            last = Some(s.cap.name.clone());
            prop_assert!(remote.contains(&s.cap));
            prop_assert_eq!(&protos[s.index].cap(), &s.cap);
            // The highest shared version of that name.
            let best = remote
                .iter()
                .filter(|c| c.name == s.cap.name && protos.iter().any(|p| p.cap() == **c))
                .map(|c| c.version)
                .max();
            prop_assert_eq!(best, Some(s.cap.version));
        }
    }
}
