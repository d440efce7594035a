package io.percpuref.registry;

import io.percpuref.ResourceUnavailableException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LeaseTest {

    /** Direct executor: release actions run in the thread that closes the last lease, so tests can check at once. */
    private final RefRegistry registry = RefRegistry.builder()
            .callbackExecutor(Runnable::run)
            .leakDetection(LeakDetection.DISABLED)
            .build();
    private final TestResource resource = new TestResource();
    private final ManagedResource<TestResource> handle = registry.register("r", resource, TestResource::close);

    @AfterEach
    void shutDown() {
        registry.shutdown(Duration.ZERO);
    }

    @Test
    void acquireHandsOutTheResource() {
        try (Lease<TestResource> lease = handle.acquire()) {
            assertThat(lease.resource()).isSameAs(resource);
        }
    }

    @Test
    void tryAcquireOnALiveResourceHandsOutALease() {
        assertThat(handle.tryAcquire()).hasValueSatisfying(lease -> assertThat(lease.resource()).isSameAs(resource));
    }

    @Test
    void closingALeaseGivesItsReferenceBack() {
        Lease<TestResource> lease = handle.acquire();

        lease.close();

        assertThat(handle.info().inFlight()).isZero();
    }

    @Test
    void anOpenLeaseHoldsOffTheRelease() {
        Lease<TestResource> lease = handle.acquire();

        handle.kill();

        assertThat(handle.state()).isEqualTo(RefState.DYING);
        assertThat(resource.closes()).isZero();
        lease.close();
        assertThat(handle.state()).isEqualTo(RefState.RELEASED);
        assertThat(resource.closes()).isEqualTo(1);
    }

    @Test
    void closingALeaseTwicePutsOnlyOnce() {
        Lease<TestResource> twice = handle.acquire();
        Lease<TestResource> other = handle.acquire();
        handle.kill();

        twice.close();
        twice.close();

        assertThat(handle.state()).isEqualTo(RefState.DYING); // a second put would have released it
        other.close();
        assertThat(resource.closes()).isEqualTo(1);
    }

    @Test
    void concurrentClosesOfOneLeasePutOnlyOnce() throws Exception {
        Lease<TestResource> shared = handle.acquire();
        Lease<TestResource> other = handle.acquire();
        handle.kill();
        int threads = 8;
        CyclicBarrier start = new CyclicBarrier(threads);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> closes = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                closes.add(pool.submit(() -> {
                    start.await();
                    shared.close();
                    return null;
                }));
            }
            for (Future<?> f : closes) {
                f.get(10, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }

        assertThat(handle.state()).isEqualTo(RefState.DYING);
        other.close();
        assertThat(resource.closes()).isEqualTo(1);
    }

    @Test
    void aLeaseClosedByAnotherThreadIsNotPutAgainByItsOwner() throws Exception {
        Lease<TestResource> lease = handle.acquire();
        Lease<TestResource> other = handle.acquire();
        handle.kill();

        Thread closer = new Thread(lease::close, "lease-closer");
        closer.start();
        closer.join(10_000);
        lease.close(); // the owner, after another thread's close: a no-op

        assertThat(handle.state()).isEqualTo(RefState.DYING);
        assertThatThrownBy(lease::resource).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        other.close();
        assertThat(resource.closes()).isEqualTo(1);
    }

    @Test
    void aLeaseClosedByItsOwnerIsNotPutAgainByAnotherThread() throws Exception {
        Lease<TestResource> lease = handle.acquire();
        Lease<TestResource> other = handle.acquire();
        handle.kill();

        lease.close();
        Thread closer = new Thread(() -> {
            lease.close();
            lease.close();
        }, "lease-closer");
        closer.start();
        closer.join(10_000);

        assertThat(handle.state()).isEqualTo(RefState.DYING);
        other.close();
        assertThat(resource.closes()).isEqualTo(1);
    }

    /**
     * The acquiring thread and another thread close the same lease at once, round after round (the
     * two take different paths in {@link RefLease#close()}, so each round races them; each closes
     * twice). They meet at a spinning rendezvous, so both closes start within a cache-line transfer
     * of each other. After every round exactly one reference must have been put: the resource keeps
     * one other lease, so a second put shows as zero leases in flight. (A close guarded by a plain
     * read and write of a flag fails this within a few thousand rounds here.)
     */
    @Test
    void theAcquiringThreadAndAnotherClosingOneLeaseAtOncePutOnce() throws Exception {
        Lease<TestResource> other = handle.acquire();
        int rounds = 50_000;
        AtomicInteger arrived = new AtomicInteger();
        AtomicReference<Lease<TestResource>> shared = new AtomicReference<>();
        AtomicReference<String> failure = new AtomicReference<>();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<?> owner = pool.submit(() -> {
                int meetings = 0;
                for (int r = 0; r < rounds; r++) {
                    Lease<TestResource> lease = handle.acquire();
                    shared.set(lease);
                    meet(arrived, ++meetings); // both close now
                    lease.close();
                    lease.close();
                    meet(arrived, ++meetings); // both done
                    long inFlight = handle.info().inFlight();
                    if (inFlight != 1 && failure.get() == null) {
                        failure.set("round " + r + ": " + inFlight + " leases in flight, expected 1 (the other lease)");
                    }
                }
                return null;
            });
            Future<?> closer = pool.submit(() -> {
                int meetings = 0;
                for (int r = 0; r < rounds; r++) {
                    meet(arrived, ++meetings);
                    Lease<TestResource> lease = shared.get();
                    lease.close();
                    lease.close();
                    meet(arrived, ++meetings);
                }
                return null;
            });
            owner.get(120, TimeUnit.SECONDS);
            closer.get(120, TimeUnit.SECONDS);
        } finally {
            pool.shutdownNow();
        }

        assertThat(failure.get()).isNull();
        handle.kill();
        assertThat(handle.state()).isEqualTo(RefState.DYING);
        other.close();
        assertThat(resource.closes()).isEqualTo(1);
    }

    /** A two-thread spinning rendezvous: the {@code n}-th meeting of each thread returns once both arrived. */
    private static void meet(AtomicInteger arrived, int n) {
        arrived.incrementAndGet();
        for (int spins = 0; arrived.get() < 2 * n; spins++) {
            if ((spins & 1023) == 1023) {
                Thread.yield(); // a busy machine: let the other thread run
            } else {
                Thread.onSpinWait();
            }
        }
    }

    @Test
    void aLeaseClosedOnAnotherThreadReleasesTheResource() throws Exception {
        Lease<TestResource> lease = handle.acquire();
        handle.kill();
        CountDownLatch closed = new CountDownLatch(1);

        Thread closer = new Thread(() -> {
            lease.close();
            closed.countDown();
        }, "lease-closer");
        closer.start();

        assertThat(closed.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(handle.state()).isEqualTo(RefState.RELEASED);
        assertThat(resource.closedOn()).isEqualTo("lease-closer");
    }

    @Test
    void resourceOfAClosedLeaseIsRefusedWithNameAndState() {
        Lease<TestResource> lease = handle.acquire();
        lease.close();

        assertThatThrownBy(lease::resource)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("'r'")
                .hasMessageContaining("LIVE")
                .hasMessageContaining("closed");
    }

    @Test
    void acquireOnADyingResourceThrowsWithNameAndState() {
        handle.acquire();
        handle.kill();

        assertThatThrownBy(handle::acquire)
                .isInstanceOfSatisfying(ResourceUnavailableException.class, e -> {
                    assertThat(e.resourceName()).isEqualTo("r");
                    assertThat(e.resourceState()).isEqualTo("DYING");
                })
                .hasMessageContaining("'r'")
                .hasMessageContaining("DYING");
    }

    @Test
    void acquireOnAReleasedResourceThrowsWithReleasedState() {
        handle.kill();

        assertThatThrownBy(handle::acquire)
                .isInstanceOfSatisfying(ResourceUnavailableException.class,
                        e -> assertThat(e.resourceState()).isEqualTo("RELEASED"))
                .hasMessageContaining("RELEASED");
    }

    @Test
    void tryAcquireOnADyingResourceIsEmpty() {
        handle.acquire();
        handle.kill();

        assertThat(handle.tryAcquire()).isEmpty();
    }

    @Test
    void acquireAfterShutdownThrows() {
        registry.shutdown(Duration.ZERO);

        assertThatThrownBy(handle::acquire).isInstanceOf(ResourceUnavailableException.class);
    }

    @Test
    void refusedAcquiresAreCountedAsRejections() {
        handle.acquire();
        handle.kill();

        handle.tryAcquire();
        assertThatThrownBy(handle::acquire).isInstanceOf(ResourceUnavailableException.class);

        assertThat(registry.rejectionCount()).isEqualTo(2);
    }

    @Test
    void acquireAndCloseOnALiveResourceCountNothingRegistryWide() {
        for (int i = 0; i < 1_000; i++) {
            handle.acquire().close();
        }

        assertThat(registry.rejectionCount()).isZero();
        assertThat(registry.liveCount()).isEqualTo(1);
    }

    /** Where allocations in {@link #anUntrackedLeaseAllocatesNothingBeyondItself} escape to. */
    private static volatile Object sink;

    /** An object of an untracked lease's shape (two references and an int), as this JVM lays it out. */
    private record LeaseShaped(Object entry, Object leak, int closed) {
    }

    /**
     * Layout-independent: compares with an object of the same shape allocated on this JVM, instead
     * of a byte count that holds only with compressed oops (24 bytes; 32 without, as with
     * {@code -Xmx32g} and more).
     */
    @Test
    void anUntrackedLeaseAllocatesNothingBeyondItself() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long thread = Thread.currentThread().getId();
        int n = 200_000;
        for (int i = 0; i < n; i++) { // warm up (JIT, any one-off inflation)
            handle.acquire().close();
            sink = new LeaseShaped(handle, null, i);
        }

        long before = threads.getThreadAllocatedBytes(thread);
        for (int i = 0; i < n; i++) {
            handle.acquire().close();
        }
        long perLease = (threads.getThreadAllocatedBytes(thread) - before) / n;
        before = threads.getThreadAllocatedBytes(thread);
        for (int i = 0; i < n; i++) {
            sink = new LeaseShaped(handle, null, i); // escapes: really allocated
        }
        long perObject = (threads.getThreadAllocatedBytes(thread) - before) / n;

        assertThat(perObject).as("one object of a lease's shape").isPositive();
        assertThat(perLease).as("bytes per acquire+close, vs one lease-shaped object (%d B)", perObject)
                .isLessThanOrEqualTo(perObject);
    }
}
