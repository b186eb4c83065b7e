package dev.fdbroker.client;

/**
 * What a broker says about itself in reply to a ping.
 *
 * @param maxPaths the most paths the broker takes in one request
 */
public record BrokerInfo(String version, int protocolVersion, int maxPaths) {}
