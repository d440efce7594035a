package io.percpuref.registry;

/**
 * Closes a managed resource. Runs exactly once, on the registry's callback executor, after the
 * resource was killed, its kill confirmed, and its last lease closed.
 *
 * <p>A release action that throws is reported to the registry's error reporter and logged, counted
 * ({@link RefRegistry#releaseFailureCount()}) and listed in {@link ShutdownReport#releaseFailures()}
 * (the report is not clean); the resource still reaches {@link RefState#RELEASED} and its name
 * becomes free. While it runs the resource is {@link RefState#RELEASING}; one that blocks keeps it
 * there (and eventually stuck) until it returns, and occupies one callback thread (or, with a direct
 * executor, the thread that closed the last lease, or a hand-off thread of the registry).
 *
 * @param <T> the type of resource
 */
@FunctionalInterface
public interface ReleaseAction<T> {

    /**
     * Closes {@code resource}.
     *
     * @throws Exception anything; it is reported, never propagated to the thread that closed the
     *                   last lease
     */
    void release(T resource) throws Exception;
}
