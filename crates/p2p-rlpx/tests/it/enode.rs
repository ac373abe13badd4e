//! `enode://` URL and node key properties.

use p2p_rlpx::{Enode, NodeKey};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn parsing_arbitrary_text_never_panics(text in "\\PC*") {
        let _ = text.parse::<Enode>();
        let _ = format!("enode://{text}").parse::<Enode>();
        let _ = NodeKey::from_hex(&text);
    }

    #[test]
    fn enodes_round_trip(ip in any::<std::net::IpAddr>(), tcp in any::<u16>(), udp in any::<u16>()) {
        let id = NodeKey::generate().id();
        let enode = Enode { id, ip, tcp_port: tcp, udp_port: udp };
        let text = enode.to_string();
        prop_assert_eq!(text.parse::<Enode>().unwrap(), enode);
    }
}
