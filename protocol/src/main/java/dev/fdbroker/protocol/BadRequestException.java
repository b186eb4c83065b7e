package dev.fdbroker.protocol;

/** A frame that is not a well-formed v1 request. The connection stays usable. */
public final class BadRequestException extends Exception {
  private static final long serialVersionUID = 1L;

  private final transient RequestId id;

  public BadRequestException(RequestId id, String message) {
    super(message, null, false, false);
    this.id = id;
  }

  /** The request's id if it was read before the problem was found, else {@link RequestId#NONE}. */
  public RequestId id() {
    return id;
  }
}
