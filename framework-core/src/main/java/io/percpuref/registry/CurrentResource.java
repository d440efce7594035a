package io.percpuref.registry;

import io.percpuref.ResourceUnavailableException;

import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * One name whose resource is replaced over time: leases always go to the current generation, and
 * {@link #swap} publishes a new generation and kills the old one, which drains in the background
 * and is released when its last lease closes. The pattern of Lucene's {@code ReferenceManager}
 * ({@code maybeRefresh} plus the release of the old reader), and of reloading a module while calls
 * into the old version finish. Made by {@link RefRegistry#current(String, Object, ReleaseAction)}.
 *
 * <pre>{@code
 * CurrentResource<Searcher> searcher = registry.current("searcher", open(), Searcher::close);
 * try (Lease<Searcher> lease = searcher.acquire()) {   // always the newest generation
 *     lease.resource().search(query);
 * }
 * searcher.swap(reopen());                              // old generation drains, then closes
 * }</pre>
 *
 * <p>Each generation is an ordinary {@link ManagedResource} of the registry, named
 * {@code <name>#<generation>} ({@code searcher#1}, {@code searcher#2}, ...), with its own state, leak
 * detection, stuck detection, metrics and place in shutdown reports. A generation leaves the
 * registry when it is released, so only the current generation and the ones still draining are
 * registered (and have per-ref gauges): their number stays bounded as long as old leases are closed.
 *
 * <p>Thread-safe. {@link #acquire()} is lock-free: it leases the generation it reads and, if a
 * concurrent {@link #swap} killed that one in between, retries on the new one (such a retry counts as
 * one refused acquire in the registry's rejections). Swaps are serialized by a lock.
 *
 * @param <T> the type of resource
 */
public interface CurrentResource<T> {

    /** The holder's name; its generations are registered as {@code <name>#<generation>}. */
    String name();

    /**
     * Leases the current generation.
     *
     * @throws ResourceUnavailableException if the holder was closed or the registry shut down (the
     *                                      message names the current generation and its state)
     */
    Lease<T> acquire();

    /** Like {@link #acquire()}, but empty instead of throwing once the holder is closed or shut down. */
    Optional<Lease<T>> tryAcquire();

    /**
     * Registers {@code newResource} as the next generation, makes it current (every acquire that
     * starts after this returns leases it), then kills the previous generation, whose open leases stay
     * valid until closed.
     *
     * @return a stage that completes when the previous generation has been released
     * @throws NullPointerException  if {@code newResource} is null
     * @throws IllegalStateException if the holder is closed or the registry is shut down (nothing
     *                               changes)
     */
    CompletionStage<Void> swap(T newResource);

    /** The current generation's handle (its state, info, released stage). */
    ManagedResource<T> current();

    /**
     * The current generation's number: 1 for the first, growing with each swap. A number is skipped
     * when {@code <name>#<number>} is still registered (a generation of an earlier holder of the same
     * name, still draining).
     */
    long generation();

    /**
     * Kills the current generation and refuses further swaps; acquires fail from then on.
     * Idempotent.
     *
     * @return a stage that completes when the current generation has been released
     */
    CompletionStage<Void> close();
}
