//! @chainsafe/discv5 as a second implementation.
