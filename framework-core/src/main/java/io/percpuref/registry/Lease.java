package io.percpuref.registry;

/**
 * One reference on a live {@link ManagedResource}, handed out by {@link ManagedResource#acquire()}:
 * while it is open the resource's release action cannot run. Use it in try-with-resources.
 *
 * <pre>{@code
 * try (Lease<AioContext> lease = handle.acquire()) {
 *     lease.resource().submit(request);
 * }
 * }</pre>
 *
 * <p>{@link #close()} puts the reference exactly once: it is idempotent (a second close is a no-op,
 * never a second put), thread-safe (concurrent closes put once between them), and may be called on
 * any thread, for example in the completion handler of asynchronous work that the lease covers.
 *
 * @param <T> the type of resource
 */
public interface Lease<T> extends AutoCloseable {

    /**
     * The leased resource. Valid until {@link #close()}; keep the lease (not just the resource)
     * reachable while you use it, or leak detection may report it.
     *
     * @throws IllegalStateException if this lease is closed (the message names the resource and
     *                               its state)
     */
    T resource();

    /**
     * Takes another lease on the same resource, on behalf of this open one: for fanning out
     * asynchronous work, each part closing its own lease (Netty's {@code retain()}, Cassandra's
     * {@code ref.ref()}). Unlike {@link ManagedResource#acquire()} it succeeds while the resource is
     * dying, since this lease keeps it from being released; the new lease is independent (closing
     * either does not close the other) and leak-tracked like any other.
     *
     * <p>Must not race this lease's own {@link #close()}: retain from a lease you still hold.
     *
     * @return a new open lease on the same resource
     * @throws IllegalStateException if this lease is closed (the message names the resource and its
     *                               state)
     */
    Lease<T> retain();

    /**
     * Puts this lease's reference, once; later calls do nothing. If this was the last reference of
     * a dying resource, the release action is dispatched to the callback executor (it never runs
     * in this thread unless the registry was built with a direct executor).
     */
    @Override
    void close();
}
