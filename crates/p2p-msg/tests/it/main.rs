//! Integration tests of `p2p-msg`: the reference's scenario catalogues, by behaviour.
