//! A local DNS server for the hickory resolver (filled in below).
