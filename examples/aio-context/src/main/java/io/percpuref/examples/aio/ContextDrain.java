package io.percpuref.examples.aio;

import java.time.Duration;

/**
 * What {@code io_destroy} reports once the context it destroyed has been released.
 *
 * @param contextId        the destroyed context
 * @param inFlightAtKill   requests in flight when it was killed; each held a reference that the
 *                         release waited for
 * @param requestsCompleted requests that completed on this context over its life
 * @param drainTime        kill to release: until the last completion handler ran and the
 *                         channel was closed
 */
public record ContextDrain(long contextId, int inFlightAtKill, long requestsCompleted, Duration drainTime) {
}
