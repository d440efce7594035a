package io.percpuref.registry;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Adversarial tests of the owner's CAS-free lease close ({@link RefLease}): the paths the Lincheck
 * test does not cover (tracked leases and their holders, the leak detector's reclaim racing the
 * owner's and other threads' closes, an owner thread that is gone, use after another thread's close).
 */
class LeaseCloseAttackTest {

    @RegisterExtension
    final RegistriesShutDown registries = new RegistriesShutDown();
    private final RecordingListener recorder = new RecordingListener();

    private RefRegistry registry(LeakDetection detection, boolean reclaim) {
        RefRegistry r = RefRegistry.builder()
                .callbackExecutor(Runnable::run)
                .leakDetection(detection)
                .reclaimLeaks(reclaim)
                .build();
        r.addListener(recorder);
        registries.add(r);
        return r;
    }

    /** The acquiring thread has terminated: any thread can still close its lease, exactly once. */
    @Test
    void aLeaseWhoseOwnerThreadIsGoneIsClosedByAnyoneExactlyOnce() throws Exception {
        RefRegistry registry = registry(LeakDetection.PARANOID, false);
        TestResource resource = new TestResource();
        ManagedResource<TestResource> handle = registry.register("r", resource, TestResource::close);
        Lease<TestResource> other = handle.acquire();
        AtomicReference<Lease<TestResource>> orphan = new AtomicReference<>();
        Thread owner = new Thread(() -> orphan.set(handle.acquire()), "short-lived-owner");
        owner.start();
        owner.join();
        assertThat(owner.isAlive()).isFalse();
        handle.kill();

        Lease<TestResource> lease = orphan.get();
        assertThat(handle.openLeases().holders()).extracting(LeaseHolder::acquiredBy)
                .contains("short-lived-owner");
        lease.close();
        lease.close();
        Thread third = new Thread(lease::close, "third");
        third.start();
        third.join();

        assertThat(handle.state()).isEqualTo(RefState.DYING);
        assertThat(handle.openLeases().count()).isEqualTo(1);
        assertThat(handle.openLeases().holders()).extracting(LeaseHolder::acquiredBy)
                .doesNotContain("short-lived-owner");
        assertThatThrownBy(lease::resource).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        other.close();
        assertThat(resource.closes()).isEqualTo(1);
    }

    /** After another thread closed it, the owner may neither use nor retain the lease. */
    @Test
    void resourceAndRetainThrowForTheOwnerOnceAnotherThreadClosed() throws Exception {
        RefRegistry registry = registry(LeakDetection.DISABLED, false);
        ManagedResource<TestResource> handle = registry.register("r", new TestResource(), TestResource::close);
        Lease<TestResource> lease = handle.acquire();
        Thread closer = new Thread(lease::close, "closer");
        closer.start();
        closer.join();

        assertThatThrownBy(lease::resource).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("'r'").hasMessageContaining("closed");
        assertThatThrownBy(lease::retain).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("'r'").hasMessageContaining("closed");
        assertThat(lease.toString()).contains("closed");
        assertThat(handle.info().inFlight()).isZero();
    }

    /** The owner closed: another thread may neither use nor retain the lease. */
    @Test
    void resourceAndRetainThrowForAnotherThreadOnceTheOwnerClosed() throws Exception {
        RefRegistry registry = registry(LeakDetection.DISABLED, false);
        ManagedResource<TestResource> handle = registry.register("r", new TestResource(), TestResource::close);
        Lease<TestResource> lease = handle.acquire();
        lease.close();
        AtomicReference<Throwable> onResource = new AtomicReference<>();
        AtomicReference<Throwable> onRetain = new AtomicReference<>();
        Thread user = new Thread(() -> {
            try {
                lease.resource();
            } catch (Throwable t) {
                onResource.set(t);
            }
            try {
                lease.retain();
            } catch (Throwable t) {
                onRetain.set(t);
            }
        }, "user");
        user.start();
        user.join();

        assertThat(onResource.get()).isInstanceOf(IllegalStateException.class);
        assertThat(onRetain.get()).isInstanceOf(IllegalStateException.class);
        assertThat(handle.info().inFlight()).isZero();
    }

    /**
     * Tracked leases (PARANOID) closed at once by their owner and by a pool thread, each twice: the
     * Lincheck test runs with leak detection DISABLED, so it never takes {@link RefLease.Tracked}'s
     * put. Every round must put once and leave no holder behind.
     */
    @Test
    void trackedLeasesClosedByTheOwnerAndAPoolThreadAtOncePutOnceAndLeaveNoHolder() throws Exception {
        RefRegistry registry = registry(LeakDetection.PARANOID, false);
        ManagedResource<TestResource> handle = registry.register("r", new TestResource(), TestResource::close);
        Lease<TestResource> other = handle.acquire();
        int rounds = 5_000;
        CyclicBarrier barrier = new CyclicBarrier(2);
        AtomicReference<Lease<TestResource>> shared = new AtomicReference<>();
        AtomicReference<String> failure = new AtomicReference<>();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<?> owner = pool.submit(() -> {
                for (int r = 0; r < rounds; r++) {
                    Lease<TestResource> lease = handle.acquire();
                    shared.set(lease);
                    barrier.await(30, TimeUnit.SECONDS);
                    lease.close();
                    lease.close();
                    barrier.await(30, TimeUnit.SECONDS);
                    OpenLeases open = handle.openLeases();
                    if ((open.count() != 1 || open.holders().size() != 1) && failure.get() == null) {
                        failure.set("round " + r + ": " + open);
                    }
                }
                return null;
            });
            Future<?> closer = pool.submit(() -> {
                for (int r = 0; r < rounds; r++) {
                    barrier.await(30, TimeUnit.SECONDS);
                    Lease<TestResource> lease = shared.get();
                    lease.close();
                    lease.close();
                    barrier.await(30, TimeUnit.SECONDS);
                }
                return null;
            });
            owner.get(120, TimeUnit.SECONDS);
            closer.get(120, TimeUnit.SECONDS);
        } finally {
            pool.shutdownNow();
        }
        assertThat(failure.get()).isNull();
        other.close();
    }

    /**
     * The leak detector's reclaim (as if the GC had found the lease unreachable) racing the owner's
     * close and another thread's close: in every round exactly one of the three puts the lease's
     * reference. (Real collection cannot race a close, which keeps the lease reachable; the record's
     * CAS is the second line of defence and must hold against both close paths.)
     */
    @Test
    void aReclaimRacingTheOwnerAndAnotherCloserNeverPutsTwice() throws Exception {
        RefRegistry registry = registry(LeakDetection.PARANOID, true);
        TestResource resource = new TestResource();
        ManagedResource<TestResource> handle = registry.register("r", resource, TestResource::close);
        Lease<TestResource> other = handle.acquire();
        int rounds = 2_000;
        CyclicBarrier barrier = new CyclicBarrier(3);
        AtomicReference<Lease<TestResource>> shared = new AtomicReference<>();
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            Future<?> owner = pool.submit(() -> {
                for (int r = 0; r < rounds; r++) {
                    Lease<TestResource> lease = handle.acquire();
                    shared.set(lease);
                    barrier.await(30, TimeUnit.SECONDS);
                    lease.close();
                    barrier.await(30, TimeUnit.SECONDS);
                }
                return null;
            });
            Future<?> closer = pool.submit(() -> {
                for (int r = 0; r < rounds; r++) {
                    barrier.await(30, TimeUnit.SECONDS);
                    shared.get().close();
                    barrier.await(30, TimeUnit.SECONDS);
                }
                return null;
            });
            Future<?> collector = pool.submit(() -> {
                for (int r = 0; r < rounds; r++) {
                    barrier.await(30, TimeUnit.SECONDS);
                    Leaks.simulateCollection(shared.get());
                    barrier.await(30, TimeUnit.SECONDS);
                }
                return null;
            });
            owner.get(120, TimeUnit.SECONDS);
            closer.get(120, TimeUnit.SECONDS);
            collector.get(120, TimeUnit.SECONDS);
        } finally {
            pool.shutdownNow();
        }

        // Reclaims are handed off: wait for them, then exactly the other lease must be left.
        // (A double put drives the count below 1 for good: the during() catches one landing late.)
        await().atMost(Duration.ofSeconds(30)).during(Duration.ofMillis(300))
                .until(() -> handle.info().inFlight() == 1 && handle.openLeases().holders().size() == 1);
        assertThat(registry.leakCount()).isEqualTo(recorder.leaks.size());
        handle.kill();
        assertThat(handle.state()).as("a double put would have released it").isEqualTo(RefState.DYING);
        other.close();
        await().until(() -> handle.state() == RefState.RELEASED);
        assertThat(resource.closes()).isEqualTo(1);
    }

    /** A lease closed by another thread is never reported or reclaimed as a leak afterwards. */
    @Test
    void aLeaseClosedByAnotherThreadIsNotReclaimedLater() throws Exception {
        RefRegistry registry = registry(LeakDetection.PARANOID, true);
        TestResource resource = new TestResource();
        ManagedResource<TestResource> handle = registry.register("r", resource, TestResource::close);
        Lease<TestResource> other = handle.acquire();
        Lease<TestResource> lease = handle.acquire();
        Thread closer = new Thread(lease::close, "closer");
        closer.start();
        closer.join();
        lease.close(); // the owner: backs off

        Leaks.simulateCollection(lease);
        // Give a (wrong) reclaim every chance to land: a second lease's leak, handed off after it, is reported.
        Lease<TestResource> marker = handle.acquire();
        Leaks.simulateCollection(marker);
        await().until(() -> registry.leakCount() == 1);

        assertThat(recorder.leaks).hasSize(1);
        assertThat(handle.info().inFlight()).isEqualTo(1);
        handle.kill();
        assertThat(handle.state()).isEqualTo(RefState.DYING);
        other.close();
        await().until(() -> handle.state() == RefState.RELEASED);
        assertThat(resource.closes()).isEqualTo(1);
    }

    /** RefLease's ownerState values (its private constants): the owner is closing, put, backed off. */
    private static final byte CLOSING = 1;
    private static final byte PUT = 2;
    private static final byte BACKED_OFF = 3;

    private static VarHandle leaseField(String name) throws ReflectiveOperationException {
        return MethodHandles.privateLookupIn(RefLease.class, MethodHandles.lookup())
                .findVarHandle(RefLease.class, name, byte.class);
    }

    /**
     * The owner preempted between its two steps (state CLOSING, decision not yet written): another
     * thread's close claims the lease and waits, through its spin and yield phases, then follows the
     * owner's decision: BACKED_OFF, it puts; PUT, it does not. The owner's steps are played here by
     * writing its state, so the closer is certainly waiting (it has claimed while CLOSING) when the
     * decision comes.
     */
    @Test
    void anotherCloserWaitingOnAPreemptedOwnerFollowsItsDecision() throws Exception {
        VarHandle ownerState = leaseField("ownerState");
        VarHandle other = leaseField("other");
        RefRegistry registry = registry(LeakDetection.DISABLED, false);
        ManagedResource<TestResource> handle = registry.register("r", new TestResource(), TestResource::close);
        Lease<TestResource> keep = handle.acquire();
        for (byte decision : new byte[] {BACKED_OFF, PUT}) {
            Lease<TestResource> lease = handle.acquire();
            ownerState.setVolatile(lease, CLOSING); // the owner's first step; it is preempted here
            CompletableFuture<Void> closed = new CompletableFuture<>();
            Thread closer = new Thread(() -> {
                lease.close();
                closed.complete(null);
            }, "closer");
            closer.setDaemon(true);
            closer.start();
            await().until(() -> (byte) other.getVolatile(lease) == 1); // claimed: now waiting on the owner
            Thread.yield();
            assertThat(closed).isNotDone();

            ownerState.setVolatile(lease, decision); // the owner's decision (PUT: it puts itself)
            if (decision == PUT) {
                ((RefLease<TestResource>) lease).putReference();
            }
            closed.get(30, TimeUnit.SECONDS);
            assertThat(handle.info().inFlight()).as("after decision " + decision).isEqualTo(1);
        }
        keep.close();
        assertThat(handle.info().inFlight()).isZero();
    }
}
