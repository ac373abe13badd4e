//! Packet cost beside the secp256k1 floor, interleaved: 20 rounds of 200 iterations of each
//! operation in turn, so that load from other processes hits all of them alike (criterion's
//! `discv4` bench measures them one after the other). Prints the mean per operation and the
//! ratios.
//!
//! Run with `cargo bench -p p2p-discv4 --bench packet_ratio`.

#![allow(missing_docs, clippy::unwrap_used, clippy::print_stdout)]
use p2p_discv4::packet::{self, Endpoint, Message, Ping};
use p2p_rlpx::NodeKey;
use secp256k1::Message as D;
use secp256k1::ecdsa::RecoverableSignature;
use std::time::Instant;
fn main() {
    let key = NodeKey::generate();
    let e = Endpoint {
        ip: "127.0.0.1".parse().unwrap(),
        udp_port: 1,
        tcp_port: 1,
    };
    let m = Message::Ping(Ping {
        version: 4,
        from: e,
        to: e,
        expiration: 1,
        enr_seq: Some(1),
    });
    let (bytes, _) = packet::encode(&m, key.secret_key());
    let sig =
        RecoverableSignature::sign_ecdsa_recoverable(D::from_digest([7; 32]), key.secret_key());
    let mut t = [0f64; 5];
    for _ in 0..20 {
        let s = Instant::now();
        for _ in 0..200 {
            std::hint::black_box(RecoverableSignature::sign_ecdsa_recoverable_with_noncedata(
                D::from_digest([7; 32]),
                key.secret_key(),
                &[1; 32],
            ));
        }
        t[0] += s.elapsed().as_secs_f64();
        let s = Instant::now();
        for _ in 0..200 {
            std::hint::black_box(packet::encode(&m, key.secret_key()));
        }
        t[1] += s.elapsed().as_secs_f64();
        let s = Instant::now();
        for _ in 0..200 {
            std::hint::black_box(sig.recover_ecdsa(D::from_digest([7; 32])).unwrap());
        }
        t[2] += s.elapsed().as_secs_f64();
        let s = Instant::now();
        for _ in 0..200 {
            std::hint::black_box(packet::decode(&bytes).unwrap());
        }
        t[3] += s.elapsed().as_secs_f64();
        let s = Instant::now();
        for _ in 0..200 {
            std::hint::black_box(p2p_rlpx::node_id(
                &sig.recover_ecdsa(D::from_digest([7; 32])).unwrap(),
            ));
        }
        t[4] += s.elapsed().as_secs_f64();
    }
    let names = [
        "floor sign",
        "encode+sign ping",
        "floor recover",
        "decode+verify ping",
        "recover+node id",
    ];
    for (n, v) in names.iter().zip(t) {
        println!("{n}: {:.1} us", v / 4000.0 * 1e6);
    }
    println!("encode+sign / floor sign = {:.2}", t[1] / t[0]);
    println!("decode+verify / floor recover = {:.2}", t[3] / t[2]);
}
