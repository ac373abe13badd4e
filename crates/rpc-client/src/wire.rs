//! JSON-RPC 2.0 wire format: request encoding straight into one buffer, and a single-pass,
//! borrowing parse of incoming responses and notifications.
//!
//! Incoming ids are compared as parsed JSON values: the number `1` matches request 1 whatever
//! the whitespace, while the string `"1"` matches nothing. A message that cannot be parsed is
//! reported to the caller of [`parse_frame`], which logs and ignores it.

use std::{borrow::Cow, fmt, io::Write as _};

use bytes::Bytes;
use serde::{
    Deserialize, Deserializer, Serialize,
    de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor},
};
use serde_json::value::RawValue;

use crate::error::Error;

/// The id of an incoming message, as parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Id {
    /// No `id` member.
    #[default]
    Missing,
    /// `"id": null`.
    Null,
    /// A non-negative integer id.
    Num(u64),
    /// Any other id (a string, a negative or fractional number, an object).
    Other,
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON-RPC id")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
                Ok(Id::Num(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Id, E> {
                Ok(u64::try_from(v).map_or(Id::Other, Id::Num))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Id, E> {
                Ok(Id::Other)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Id, E> {
                Ok(Id::Other)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Id, E> {
                Ok(Id::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Id, E> {
                Ok(Id::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Id, E> {
                Ok(Id::Null)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Id, D2::Error> {
                d.deserialize_any(self)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Id, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Id::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Id, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Id::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// Deserialises a member as `Some(raw)` even when it is `null` (absent stays `None`).
fn some_raw<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// One incoming JSON-RPC message (a response, a notification or a server call).
#[derive(Debug, Deserialize)]
pub(crate) struct Incoming<'a> {
    #[serde(default)]
    pub(crate) id: Id,
    #[serde(borrow, default)]
    pub(crate) method: Option<Cow<'a, str>>,
    /// The params of a subscription notification, parsed in the same pass; `None` for any
    /// other shape of params.
    #[serde(rename = "params", borrow, default, deserialize_with = "lenient_sub")]
    pub(crate) sub: Option<SubParams<'a>>,
    #[serde(borrow, default, deserialize_with = "some_raw")]
    pub(crate) result: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "some_raw")]
    pub(crate) error: Option<&'a RawValue>,
}

impl Incoming<'_> {
    /// The outcome of a response: the raw result, or the error object.
    pub(crate) fn outcome(&self) -> Result<Box<RawValue>, Error> {
        if let Some(err) = self.error {
            return Err(decode_error_object(err));
        }
        match self.result {
            Some(r) => Ok(r.to_owned()),
            None => Err(Error::NoResult),
        }
    }
}

/// The bytes of `raw` as a zero-copy slice of `frame` (which `raw` was parsed from); a copy if
/// `raw` does not lie inside `frame`.
pub(crate) fn slice_of(frame: &Bytes, raw: &RawValue) -> Bytes {
    let text = raw.get().as_bytes();
    let start = (text.as_ptr() as usize).checked_sub(frame.as_ptr() as usize);
    match start {
        Some(start)
            if start
                .checked_add(text.len())
                .is_some_and(|end| end <= frame.len()) =>
        {
            frame.slice(start..start + text.len())
        }
        _ => Bytes::copy_from_slice(text),
    }
}

impl Incoming<'_> {
    /// Like [`outcome`](Self::outcome), with the result as a zero-copy slice of `frame`.
    pub(crate) fn outcome_in(&self, frame: &Bytes) -> Result<Bytes, Error> {
        if let Some(err) = self.error {
            return Err(decode_error_object(err));
        }
        match self.result {
            Some(r) => Ok(slice_of(frame, r)),
            None => Err(Error::NoResult),
        }
    }
}

/// Decodes an `error` member; a malformed one becomes [`Error::InvalidResponse`].
pub(crate) fn decode_error_object(raw: &RawValue) -> Error {
    match serde_json::from_str(raw.get()) {
        Ok(obj) => Error::Rpc(Box::new(obj)),
        Err(e) => Error::InvalidResponse(format!("malformed error object: {e}")),
    }
}

/// The params of a `<ns>_subscription` notification.
#[derive(Debug)]
pub(crate) struct SubParams<'a> {
    pub(crate) subscription: SubKey<'a>,
    pub(crate) result: Option<&'a RawValue>,
    pub(crate) error: Option<&'a RawValue>,
}

/// Parses `params` as subscription params when it has that shape, and skips it otherwise
/// (never failing the message).
fn lenient_sub<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SubParams<'de>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<SubParams<'de>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("params")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            let mut subscription = None;
            let mut result = None;
            let mut error = None;
            while let Some(key) = a.next_key::<Cow<'de, str>>()? {
                match key.as_ref() {
                    "subscription" => {
                        let raw: &'de RawValue = a.next_value()?;
                        subscription = serde_json::from_str::<SubKey<'de>>(raw.get()).ok();
                    }
                    "result" => result = Some(a.next_value::<&'de RawValue>()?),
                    "error" => error = Some(a.next_value::<&'de RawValue>()?),
                    _ => {
                        a.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(subscription.map(|subscription| SubParams {
                subscription,
                result,
                error,
            }))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            while a.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

/// A subscription id as a lookup key: strings as they are, numbers as NUL + digits.
///
/// Numbers are kept as numbers until the key is needed, so looking up a numeric id (the
/// common case for every notification) needs no heap allocation: see [`SubKey::as_key`].
#[derive(Debug)]
pub(crate) enum SubKey<'a> {
    /// A string id, used as the key as it is.
    Text(Cow<'a, str>),
    /// A non-negative numeric id.
    U64(u64),
    /// A negative numeric id.
    I64(i64),
}

/// Room for the key of any numeric id: NUL, a sign and 20 digits.
pub(crate) const NUM_KEY_BUF: usize = 24;

impl SubKey<'_> {
    /// The internal key, written into `buf` for numeric ids (no allocation).
    pub(crate) fn as_key<'b>(&'b self, buf: &'b mut [u8; NUM_KEY_BUF]) -> Cow<'b, str> {
        let mut cursor: &mut [u8] = &mut buf[..];
        let written = match self {
            SubKey::Text(t) => return Cow::Borrowed(t.as_ref()),
            SubKey::U64(v) => write!(cursor, "\0{v}"),
            SubKey::I64(v) => write!(cursor, "\0{v}"),
        };
        let left = cursor.len();
        let len = NUM_KEY_BUF - left;
        match (written, buf.get(..len).map(std::str::from_utf8)) {
            (Ok(()), Some(Ok(s))) => Cow::Borrowed(s),
            _ => Cow::Owned(self.to_key()),
        }
    }

    /// The internal key as an owned string.
    pub(crate) fn to_key(&self) -> String {
        match self {
            SubKey::Text(t) => t.clone().into_owned(),
            SubKey::U64(v) => format!("\0{v}"),
            SubKey::I64(v) => format!("\0{v}"),
        }
    }

    /// The internal key as an owned string, reusing an owned text id.
    pub(crate) fn into_key(self) -> String {
        match self {
            SubKey::Text(t) => t.into_owned(),
            other => other.to_key(),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for SubKey<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SubKey<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a subscription id (string or number)")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<SubKey<'de>, E> {
                Ok(SubKey::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SubKey<'de>, E> {
                Ok(SubKey::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<SubKey<'de>, E> {
                Ok(SubKey::Text(Cow::Owned(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SubKey<'de>, E> {
                Ok(SubKey::U64(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SubKey<'de>, E> {
                Ok(SubKey::I64(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses a subscribe reply's result into a subscription key.
pub(crate) fn parse_sub_id(raw: &RawValue) -> Result<String, Error> {
    serde_json::from_str::<SubKey<'_>>(raw.get())
        .map(SubKey::into_key)
        .map_err(|e| Error::InvalidResponse(format!("bad subscription id {}: {e}", raw.get())))
}

/// The parsed content of one frame.
#[derive(Debug)]
pub(crate) enum Parsed<'a> {
    /// A single message.
    One(Incoming<'a>),
    /// A batch (array); entries that are not messages are `None`.
    Many(Vec<Option<Incoming<'a>>>),
}

/// Parses a frame once; the `RawValue`s borrow from `frame`.
///
/// # Errors
///
/// [`Error::InvalidResponse`] when the frame is not a JSON object or array.
pub(crate) fn parse_frame(frame: &[u8]) -> Result<Parsed<'_>, Error> {
    let first = frame.iter().copied().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'{') => serde_json::from_slice::<Incoming<'_>>(frame)
            .map(Parsed::One)
            .map_err(|e| Error::InvalidResponse(e.to_string())),
        Some(b'[') => match serde_json::from_slice::<Vec<Option<Incoming<'_>>>>(frame) {
            Ok(v) => Ok(Parsed::Many(v)),
            Err(_) => {
                // Some element is not an object: keep the ones that are.
                let raw: Vec<&RawValue> = serde_json::from_slice(frame)
                    .map_err(|e| Error::InvalidResponse(e.to_string()))?;
                Ok(Parsed::Many(
                    raw.into_iter()
                        .map(|r| serde_json::from_str::<Incoming<'_>>(r.get()).ok())
                        .collect(),
                ))
            }
        },
        _ => Err(Error::InvalidResponse(
            "frame is neither a JSON object nor an array".into(),
        )),
    }
}

/// Appends one request (or, with `id == None`, a notification) to `buf`.
///
/// `params` must serialise to an array, an object or `null`; `null` (for example `()`) omits
/// the `params` member.
pub(crate) fn write_request<P: Serialize + ?Sized>(
    buf: &mut Vec<u8>,
    id: Option<u64>,
    method: &str,
    params: &P,
) -> Result<(), Error> {
    buf.extend_from_slice(b"{\"jsonrpc\":\"2.0\",");
    if let Some(id) = id {
        // Writing to a Vec cannot fail.
        let _ = write!(buf, "\"id\":{id},");
    }
    buf.extend_from_slice(b"\"method\":");
    serde_json::to_writer(&mut *buf, method).map_err(|e| Error::InvalidParams(e.to_string()))?;
    let mark = buf.len();
    buf.extend_from_slice(b",\"params\":");
    let start = buf.len();
    serde_json::to_writer(&mut *buf, params).map_err(|e| Error::InvalidParams(e.to_string()))?;
    match buf.get(start..) {
        Some([b'[', ..] | [b'{', ..]) => {}
        Some(b"null") => buf.truncate(mark),
        _ => {
            return Err(Error::InvalidParams(
                "params must serialise to an array, an object or nothing".into(),
            ));
        }
    }
    buf.push(b'}');
    Ok(())
}

/// Encodes one request or notification as a frame.
pub(crate) fn encode_request<P: Serialize + ?Sized>(
    id: Option<u64>,
    method: &str,
    params: &P,
) -> Result<String, Error> {
    let mut buf = Vec::with_capacity(48 + method.len());
    write_request(&mut buf, id, method, params)?;
    into_string(buf)
}

/// Turns an encoded buffer into a frame.
pub(crate) fn into_string(buf: Vec<u8>) -> Result<String, Error> {
    String::from_utf8(buf).map_err(|e| Error::InvalidParams(e.to_string()))
}

/// Serialises params once into raw JSON (`None` for "no params"), checking their shape.
pub(crate) fn params_to_raw<P: Serialize + ?Sized>(
    params: &P,
) -> Result<Option<Box<RawValue>>, Error> {
    let raw =
        serde_json::value::to_raw_value(params).map_err(|e| Error::InvalidParams(e.to_string()))?;
    match raw.get().as_bytes().first() {
        Some(b'[' | b'{') => Ok(Some(raw)),
        _ if raw.get() == "null" => Ok(None),
        _ => Err(Error::InvalidParams(
            "params must serialise to an array, an object or nothing".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn enc<P: Serialize>(id: Option<u64>, m: &str, p: P) -> String {
        encode_request(id, m, &p).unwrap()
    }

    #[test]
    fn encodes_requests() {
        assert_eq!(
            enc(Some(1), "eth_blockNumber", ()),
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}"#
        );
        assert_eq!(
            enc(Some(7), "eth_getBalance", ("0x01", "latest")),
            r#"{"jsonrpc":"2.0","id":7,"method":"eth_getBalance","params":["0x01","latest"]}"#
        );
        assert_eq!(
            enc(None, "n", [1, 2]),
            r#"{"jsonrpc":"2.0","method":"n","params":[1,2]}"#
        );
        let obj = serde_json::json!({"a": 1});
        assert_eq!(
            enc(Some(2), "m\"x", obj),
            r#"{"jsonrpc":"2.0","id":2,"method":"m\"x","params":{"a":1}}"#
        );
        assert!(matches!(
            encode_request(Some(1), "m", &5),
            Err(Error::InvalidParams(_))
        ));
        assert!(matches!(
            encode_request(Some(1), "m", &"s"),
            Err(Error::InvalidParams(_))
        ));
    }

    #[test]
    fn parses_responses_and_ids() {
        let check = |frame: &str, id: Id| {
            let Parsed::One(m) = parse_frame(frame.as_bytes()).unwrap() else {
                panic!("not one")
            };
            assert_eq!(m.id, id, "{frame}");
        };
        check(r#"{"jsonrpc":"2.0","id":1,"result":"0x1"}"#, Id::Num(1));
        check(r#"{ "id" : 1 , "result":null}"#, Id::Num(1));
        check(r#"{"id":"1","result":1}"#, Id::Other);
        check(r#"{"id":-1,"result":1}"#, Id::Other);
        check(r#"{"id":1.5,"result":1}"#, Id::Other);
        check(
            r#"{"id":null,"error":{"code":-32700,"message":"x"}}"#,
            Id::Null,
        );
        check(r#"{"id":{"a":[1]},"result":1}"#, Id::Other);
        check(r#"{"jsonrpc":"2.0","result":"0x4"}"#, Id::Missing);
    }

    #[test]
    fn numeric_subscription_keys_match_their_owned_form() {
        for text in [
            "0",
            "12",
            "18446744073709551615",
            "-1",
            "-9223372036854775808",
            "\"0xab\"",
        ] {
            let key: SubKey<'_> = serde_json::from_str(text).unwrap();
            let mut buf = [0u8; NUM_KEY_BUF];
            let borrowed = key.as_key(&mut buf).into_owned();
            assert_eq!(borrowed, key.to_key());
            assert_eq!(
                borrowed,
                parse_sub_id(&RawValue::from_string(text.into()).unwrap()).unwrap()
            );
        }
        let key: SubKey<'_> = serde_json::from_str("7").unwrap();
        assert_eq!(key.to_key(), "\u{0}7");
    }

    #[test]
    fn null_result_is_a_result() {
        let Parsed::One(m) = parse_frame(br#"{"id":3,"result":null}"#).unwrap() else {
            panic!("not one")
        };
        assert_eq!(m.outcome().unwrap().get(), "null");
        let Parsed::One(m) = parse_frame(br#"{"id":3}"#).unwrap() else {
            panic!("not one")
        };
        assert!(matches!(m.outcome(), Err(Error::NoResult)));
    }

    #[test]
    fn parses_batches_with_junk_entries() {
        let Parsed::Many(v) = parse_frame(
            br#"[{"id":1,"result":1}, 5, null, {"id":2,"error":{"code":1,"message":"m"}}]"#,
        )
        .unwrap() else {
            panic!("not many")
        };
        assert_eq!(v.len(), 4);
        assert!(v[1].is_none());
        assert!(v[2].is_none());
        assert!(matches!(
            v[3].as_ref().unwrap().outcome(),
            Err(Error::Rpc(_))
        ));
    }

    #[test]
    fn parses_notifications() {
        let Parsed::One(m) = parse_frame(
            br#"{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0x1","result":{"n":1}}}"#,
        )
        .unwrap() else {
            panic!("not one")
        };
        assert_eq!(m.method.as_deref(), Some("eth_subscription"));
        let p = m.sub.unwrap();
        assert_eq!(p.subscription.to_key(), "0x1");
        assert_eq!(p.result.unwrap().get(), r#"{"n":1}"#);
        let Parsed::One(m) = parse_frame(
            br#"{"method":"x_subscription","params":{"extra":[1],"subscription":12,"result":null}}"#,
        )
        .unwrap() else {
            panic!("not one")
        };
        let p = m.sub.unwrap();
        assert_eq!(p.subscription.to_key(), "\u{0}12");
        assert_eq!(p.result.unwrap().get(), "null");
        for params in [r#"[1,2]"#, r#"{"subscription":[]}"#, r#""s""#, "null", "{}"] {
            let frame = format!(r#"{{"method":"x_subscription","params":{params}}}"#);
            let Parsed::One(m) = parse_frame(frame.as_bytes()).unwrap() else {
                panic!("not one")
            };
            assert!(m.sub.is_none(), "{params}");
        }
        assert_eq!(
            parse_sub_id(&RawValue::from_string("12".into()).unwrap()).unwrap(),
            "\u{0}12"
        );
    }

    #[test]
    fn results_are_sliced_without_copying() {
        let frame = Bytes::from_static(br#"{"id":1,"result":{"big":"xyz"}}"#);
        let Parsed::One(m) = parse_frame(&frame).unwrap() else {
            panic!("not one")
        };
        let out = m.outcome_in(&frame).unwrap();
        assert_eq!(&out[..], br#"{"big":"xyz"}"#);
        assert!(frame.as_ptr_range().contains(&out.as_ptr()));
        // A value parsed from elsewhere is copied.
        let other = RawValue::from_string("[1]".into()).unwrap();
        assert_eq!(&slice_of(&frame, &other)[..], b"[1]");
        let Parsed::One(m) = parse_frame(br#"{"id":1,"error":{"code":5,"message":"m"}}"#).unwrap()
        else {
            panic!("not one")
        };
        assert!(matches!(m.outcome_in(&frame), Err(Error::Rpc(e)) if e.code == 5));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for f in [
            &b""[..],
            b"x",
            b"{",
            b"[{\"id\":1",
            b"\"str\"",
            b"123",
            b"\xff\xfe",
        ] {
            assert!(parse_frame(f).is_err(), "{f:?}");
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_frame(&bytes);
        }

        #[test]
        fn parse_never_panics_on_jsonish(s in r#"[\[\]{}",:0-9a-z\- ]{0,64}"#) {
            let _ = parse_frame(s.as_bytes());
        }

        #[test]
        fn request_round_trip(id in any::<u64>(), method in "[a-zA-Z_\"\\\\]{1,20}", params in proptest::collection::vec(any::<i64>(), 0..8)) {
            let frame = encode_request(Some(id), &method, &params).unwrap();
            let v: serde_json::Value = serde_json::from_str(&frame).unwrap();
            prop_assert_eq!(v["jsonrpc"].as_str(), Some("2.0"));
            prop_assert_eq!(v["id"].as_u64(), Some(id));
            prop_assert_eq!(v["method"].as_str(), Some(method.as_str()));
            prop_assert_eq!(v["params"].clone(), serde_json::json!(params));
        }

        #[test]
        fn response_round_trip(id in any::<u64>(), val in any::<i64>(), ws in "[ \n\t]{0,3}") {
            let frame = format!(r#"{{{ws}"jsonrpc":"2.0","id":{ws}{id}{ws},"result":{val}}}"#);
            let parsed = parse_frame(frame.as_bytes()).unwrap();
            let Parsed::One(m) = parsed else { panic!("not one") };
            prop_assert_eq!(m.id, Id::Num(id));
            let out = m.outcome().unwrap();
            prop_assert_eq!(out.get(), val.to_string());
        }
    }
}
