package dev.fdbroker.protocol;

/**
 * One frame's payload: {@code length} bytes of {@code array} from {@code offset}. A frame from
 * {@link FrameReader} is a view of the reader's buffer, valid until the next read.
 */
public record Frame(byte[] array, int offset, int length) {}
