//! The Status handshake: both sides send their Status at once and check the other's (eth version, network id,
//! genesis hash, EIP-2124 fork id), all within a deadline (5 s by default, as the reference peers use).

use std::time::Duration;

use p2p_msg::{MsgReader, MsgWriter};
use tracing::debug;

use crate::{Error, EthMessage, EthVersion, ForkFilter, Status, codes};

/// The default deadline for the Status exchange.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks a remote Status against the local one and the local fork filter.
///
/// # Errors
///
/// [`Error::VersionMismatch`], [`Error::NetworkMismatch`], [`Error::GenesisMismatch`] or [`Error::ForkId`], in
/// that order of checking.
pub fn check_status(local: &Status, remote: &Status, filter: &ForkFilter) -> Result<(), Error> {
    if remote.version != local.version {
        return Err(Error::VersionMismatch {
            remote: u64::from(remote.version),
            local: local.version,
        });
    }
    if remote.network_id != local.network_id {
        return Err(Error::NetworkMismatch {
            remote: remote.network_id,
            local: local.network_id,
        });
    }
    if remote.genesis != local.genesis {
        return Err(Error::GenesisMismatch {
            remote: remote.genesis,
            local: local.genesis,
        });
    }
    filter.validate(remote.fork_id)?;
    Ok(())
}

/// Sends `local` and reads and checks the remote Status, concurrently, within `timeout`. `local.version` must be
/// the version negotiated by the capability exchange.
///
/// # Errors
///
/// [`Error::HandshakeTimeout`]; [`Error::NotStatus`] if the first message is something else; [`Error::Decode`]
/// for a malformed Status; the errors of [`check_status`]; [`Error::Msg`] if the connection fails.
///
/// # Cancel safety
///
/// Not cancel safe: dropping the future mid-way leaves the connection in an unknown state; close it.
pub async fn handshake<RW>(
    rw: &RW,
    local: &Status,
    filter: &ForkFilter,
    timeout: Duration,
) -> Result<Status, Error>
where
    RW: MsgReader + MsgWriter + ?Sized,
{
    let version =
        EthVersion::from_number(u64::from(local.version)).ok_or(Error::VersionMismatch {
            remote: u64::from(local.version),
            local: local.version,
        })?;
    let exchange = async {
        // Write and read at once: on a rendezvous pipe both sides would otherwise wait for each other.
        let send = async {
            rw.write_msg(EthMessage::Status(*local).to_msg())
                .await
                .map_err(Error::from)
        };
        let recv = async {
            let msg = rw.read_msg().await?;
            if msg.code != codes::STATUS {
                return Err(Error::NotStatus { code: msg.code });
            }
            match EthMessage::from_msg(version, &msg)? {
                EthMessage::Status(s) => Ok(s),
                _ => Err(Error::NotStatus { code: msg.code }),
            }
        };
        let ((), remote) = tokio::try_join!(send, recv)?;
        Ok::<_, Error>(remote)
    };
    let remote = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| Error::HandshakeTimeout(timeout))??;
    check_status(local, &remote, filter)?;
    debug!(
        version = remote.version,
        network = remote.network_id,
        td = %remote.total_difficulty,
        best = ?remote.best_hash,
        fork = %remote.fork_id.hash,
        "eth status exchanged"
    );
    Ok(remote)
}

/// The Status handshake of a node that has no chain yet: reads the remote Status first, then answers with a
/// Status that mirrors it (same network id, genesis and fork id, the genesis as best block, total difficulty 0),
/// within `timeout`. Only the eth version is checked. Returns `(ours, theirs)`.
///
/// The remote must send its Status without waiting for ours (every implementation does, this crate's
/// [`handshake`] included). The caller must not trust the remote's genesis blindly: fetch header 0 and check
/// that it hashes to `theirs.genesis` before storing anything.
///
/// # Errors
///
/// [`Error::HandshakeTimeout`]; [`Error::NotStatus`]; [`Error::Decode`]; [`Error::VersionMismatch`];
/// [`Error::Msg`] if the connection fails.
///
/// # Cancel safety
///
/// Not cancel safe: dropping the future mid-way leaves the connection in an unknown state; close it.
pub async fn handshake_following<RW>(
    rw: &RW,
    version: EthVersion,
    timeout: Duration,
) -> Result<(Status, Status), Error>
where
    RW: MsgReader + MsgWriter + ?Sized,
{
    let exchange = async {
        let msg = rw.read_msg().await?;
        if msg.code != codes::STATUS {
            return Err(Error::NotStatus { code: msg.code });
        }
        let remote = match EthMessage::from_msg(version, &msg)? {
            EthMessage::Status(s) => s,
            _ => return Err(Error::NotStatus { code: msg.code }),
        };
        if remote.version != version.number() {
            return Err(Error::VersionMismatch {
                remote: u64::from(remote.version),
                local: version.number(),
            });
        }
        let ours = Status {
            version: version.number(),
            network_id: remote.network_id,
            total_difficulty: primitive_types::U256::zero(),
            best_hash: remote.genesis,
            genesis: remote.genesis,
            fork_id: remote.fork_id,
        };
        rw.write_msg(EthMessage::Status(ours).to_msg()).await?;
        Ok((ours, remote))
    };
    let (ours, remote) = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| Error::HandshakeTimeout(timeout))??;
    debug!(network = remote.network_id, genesis = ?remote.genesis, "eth status mirrored from the remote");
    Ok((ours, remote))
}
