package dev.fdbroker.broker.policy;

/**
 * Who is asking: the credentials the kernel recorded for the peer of the connection (SO_PEERCRED),
 * never anything the request says. {@code gid} is the caller's primary group only.
 */
public record Caller(long uid, long gid, long pid) {}
