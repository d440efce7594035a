package io.percpuref.test;

import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.OpenLeases;
import io.percpuref.registry.RefInfo;
import io.percpuref.registry.RefRegistry;
import io.percpuref.registry.RefState;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Assertions on managed resources for tests: waiting for a release, and checking that no lease is
 * open. Each failure is an {@link AssertionError} whose message says what is holding things up: the
 * resource's state, how long it has been dying, and its open leases with the thread and acquisition
 * site of every tracked one ({@link OpenLeases}).
 *
 * <pre>{@code
 * channel.kill();
 * PercpuRefAssertions.awaitReleased(channel, Duration.ofSeconds(5));
 *
 * // or, with Awaitility's own timeouts and polling:
 * await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> PercpuRefAssertions.assertReleased(channel));
 * }</pre>
 */
public final class PercpuRefAssertions {

    private PercpuRefAssertions() {
    }

    /**
     * Waits until {@code resource} is released: its release action has run, it left its registry and
     * the {@code onReleased} listeners were called ({@link ManagedResource#released()}). Returns as
     * soon as that happens (no polling); the resource must have been killed, by the caller or by
     * anything else within the timeout.
     *
     * @param resource the resource to wait for
     * @param timeout  how long to wait at most
     * @throws AssertionError           if it is not released within {@code timeout} (or the waiting
     *                                  thread is interrupted, whose flag is then set again); the
     *                                  message names the resource, its state, how long it has been
     *                                  dying and its open leases
     * @throws NullPointerException     if an argument is null
     * @throws IllegalArgumentException if {@code timeout} is negative
     */
    public static void awaitReleased(ManagedResource<?> resource, Duration timeout) {
        Objects.requireNonNull(resource, "resource");
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("timeout must not be negative, was " + timeout
                    + " (waiting for resource '" + resource.name() + "')");
        }
        try {
            resource.released().toCompletableFuture().get(saturatedNanos(timeout), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError(notReleased(resource, "was not released within " + timeout));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(notReleased(resource, "was not released: interrupted while waiting"), e);
        } catch (ExecutionException e) {
            throw new AssertionError("resource '" + resource.name() + "': its released() stage failed", e.getCause());
        }
    }

    /**
     * Asserts that {@code resource} is released now ({@link RefState#RELEASED}). Meant for
     * Awaitility's {@code untilAsserted}, whose timeout failure then carries this message.
     *
     * @throws AssertionError       if it is not released; the message names the resource, its
     *                              state, how long it has been dying and its open leases
     * @throws NullPointerException if {@code resource} is null
     */
    public static void assertReleased(ManagedResource<?> resource) {
        Objects.requireNonNull(resource, "resource");
        if (resource.state() != RefState.RELEASED) {
            throw new AssertionError(notReleased(resource, "is not released"));
        }
    }

    /**
     * Asserts that no lease of {@code resource} is open now ({@link ManagedResource#openLeases()}).
     *
     * @throws AssertionError       if any is; the message counts them and names the thread and
     *                              acquisition site of every tracked one
     * @throws NullPointerException if {@code resource} is null
     */
    public static void assertNoOpenLeases(ManagedResource<?> resource) {
        Objects.requireNonNull(resource, "resource");
        OpenLeases open = resource.openLeases();
        if (!open.isEmpty()) {
            throw new AssertionError("expected no open lease, but " + open);
        }
    }

    /**
     * Asserts that no resource of {@code registry} has an open lease now
     * ({@link RefRegistry#openLeases()}).
     *
     * @throws AssertionError       if one has; the message names each such resource with its open
     *                              leases and the thread and acquisition site of every tracked one
     * @throws NullPointerException if {@code registry} is null
     */
    public static void assertNoOpenLeases(RefRegistry registry) {
        Objects.requireNonNull(registry, "registry");
        List<OpenLeases> open = registry.openLeases();
        if (!open.isEmpty()) {
            StringBuilder sb = new StringBuilder("expected no open lease in registry '").append(registry.name())
                    .append("', but:");
            for (OpenLeases o : open) {
                sb.append('\n').append(o);
            }
            throw new AssertionError(sb.toString());
        }
    }

    private static String notReleased(ManagedResource<?> resource, String what) {
        RefInfo info = resource.info();
        StringBuilder sb = new StringBuilder("resource '").append(resource.name()).append("' ").append(what)
                .append(": it is ").append(info.state());
        switch (info.state()) {
            case LIVE -> sb.append(" (never killed: kill() it, or shut its registry down)");
            case DYING -> sb.append(", dying for ").append(info.dyingFor()).append(", waiting for its leases");
            case RELEASING -> sb.append(", dying for ").append(info.dyingFor())
                    .append(", its release action still running");
            case RELEASED -> sb.append(" (released just now)");
        }
        OpenLeases open = resource.openLeases();
        if (!open.isEmpty()) {
            sb.append('\n').append(open);
        }
        return sb.toString();
    }

    private static long saturatedNanos(Duration d) {
        try {
            return d.toNanos();
        } catch (ArithmeticException overflow) {
            return Long.MAX_VALUE;
        }
    }
}
