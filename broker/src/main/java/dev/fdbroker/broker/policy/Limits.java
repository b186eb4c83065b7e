package dev.fdbroker.broker.policy;

import dev.fdbroker.protocol.ProtocolLimits;
import java.time.Duration;

/**
 * Resource limits, set under {@code limits:} in the policy file.
 *
 * @param maxConnections connections served at once; one more is answered {@code busy} and closed
 * @param maxConnectionsPerUid connections one uid may hold at once, so that one caller cannot take
 *     every slot
 * @param requestsPerSecondPerUid the sustained request rate one uid may have (a token bucket, with a
 *     burst of one second's worth); a request over it is answered {@code busy} unprocessed
 * @param maxPathsPerRequest paths one open request may name (at most 64, the protocol's bound)
 * @param idleTimeout how long a connection may sit between requests before the broker closes it
 * @param requestTimeout how long a client may take to send one whole frame once it has begun, and
 *     to read one reply before the next is sent; a slower client is cut off
 * @param maxDescriptorsInFlight descriptors sent to all clients together and not yet received by
 *     them; a reply that would pass more is answered {@code busy} (the kernel charges them to the
 *     broker's user and refuses every send past its RLIMIT_NOFILE)
 * @param maxDescriptorsInFlightPerUid the same, for the connections of one uid
 */
public record Limits(int maxConnections, int maxConnectionsPerUid, int requestsPerSecondPerUid,
    int maxPathsPerRequest, Duration idleTimeout, Duration requestTimeout, int maxDescriptorsInFlight,
    int maxDescriptorsInFlightPerUid) {

  public static final Limits DEFAULTS = new Limits(1024, 256, 10_000, ProtocolLimits.MAX_PATHS_PER_REQUEST,
      Duration.ofSeconds(300), Duration.ofSeconds(10), 16_384, 4_096);
}
