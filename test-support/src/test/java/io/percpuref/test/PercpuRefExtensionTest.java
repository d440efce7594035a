package io.percpuref.test;

import io.percpuref.registry.LeakDetection;
import io.percpuref.registry.Lease;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Events;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

/**
 * Runs small test classes that use {@link PercpuRefExtension} on the Jupiter engine in-process
 * (EngineTestKit) and checks their outcomes. The nested classes run only there
 * ({@link OnlyInEngineTestKit}): several of them fail on purpose.
 */
class PercpuRefExtensionTest {

    private static Events run(Class<?> testClass) {
        return EngineTestKit.engine("junit-jupiter").configurationParameter(OnlyInEngineTestKit.KEY, "true")
                .selectors(selectClass(testClass)).execute().testEvents();
    }

    /** The message of the single failed test's exception. */
    private static Throwable onlyFailure(Events events) {
        assertThat(events.failed().count()).isEqualTo(1);
        return events.failed().stream().findFirst().orElseThrow()
                .getPayload(org.junit.platform.engine.TestExecutionResult.class).orElseThrow()
                .getThrowable().orElseThrow();
    }

    // ------------------------------------------------------------------------------------------

    @ExtendWith(OnlyInEngineTestKit.class)
    static class LeavesALeaseOpen {
        @RegisterExtension
        final PercpuRefExtension refs = PercpuRefExtension.freshRegistry();

        @Test
        void leaks() {
            ManagedResource<String> channel = refs.registry().register("channel", "db-1", s -> { });
            channel.acquire(); // never closed, and not even kept: no GC is needed to catch it
        }
    }

    @Test
    void aTestThatLeavesALeaseOpenFailsNamingResourceThreadAndSite() {
        Throwable failure = onlyFailure(run(LeavesALeaseOpen.class));

        assertThat(failure).isInstanceOf(AssertionError.class);
        assertThat(failure.getMessage())
                .startsWith("PercpuRefExtension: 1 lease opened during the test is still open (registry 'test'):\n"
                        + "resource 'channel' [LIVE]: 1 open lease\n  held for PT")
                .contains(" by thread '" + Thread.currentThread().getName() + "'\n    at "
                        + LeavesALeaseOpen.class.getName() + ".leaks(PercpuRefExtensionTest.java:")
                .containsPattern("\\.leaks\\(PercpuRefExtensionTest\\.java:\\d+\\)\n    \\.\\.\\. \\d+ frames of the test"
                        + " framework\nClose every lease")
                .doesNotContain("org.junit.")
                .endsWith("Close every lease (try-with-resources), or for leases closed by asynchronous work give"
                        + " them time with awaitingClose(Duration)");
    }

    @ExtendWith(OnlyInEngineTestKit.class)
    static class ClosesEverything {
        static final List<RefRegistry> registries = new ArrayList<>();

        @RegisterExtension
        final PercpuRefExtension refs = PercpuRefExtension.freshRegistry();

        @Test
        void first(RefRegistry registry) {
            registries.add(registry);
            try (Lease<String> lease = registry.register("channel", "db-1", s -> { }).acquire()) {
                assertThat(lease.resource()).isEqualTo("db-1");
            }
        }

        @Test
        void second() {
            registries.add(refs.registry());
            refs.registry().register("channel", "db-2", s -> { }).acquire().close();
        }
    }

    @Test
    void aTestThatClosesEveryLeasePassesAndEachTestGetsItsOwnParanoidRegistryShutDownAfterIt() {
        ClosesEverything.registries.clear();

        Events events = run(ClosesEverything.class);

        assertThat(events.succeeded().count()).isEqualTo(2);
        assertThat(events.failed().count()).isZero();
        assertThat(ClosesEverything.registries).hasSize(2).doesNotHaveDuplicates().allSatisfy(r -> {
            assertThat(r.isShutdown()).isTrue();
            assertThat(r.name()).isEqualTo("test");
            assertThat(r.leakDetection()).isEqualTo(LeakDetection.PARANOID);
        });
    }

    @ExtendWith(OnlyInEngineTestKit.class)
    static class ParameterAndField {
        static volatile boolean same;

        @RegisterExtension
        final PercpuRefExtension refs = PercpuRefExtension.freshRegistry(b -> b.name("custom"));

        @Test
        void sameRegistry(RefRegistry registry) {
            same = registry == refs.registry() && registry.name().equals("custom");
        }
    }

    @Test
    void theRegistryParameterIsTheTestsRegistryAndTheBuilderCanBeConfigured() {
        ParameterAndField.same = false;

        assertThat(run(ParameterAndField.class).succeeded().count()).isEqualTo(1);
        assertThat(ParameterAndField.same).isTrue();
    }

    @ExtendWith(OnlyInEngineTestKit.class)
    static class FailsAndLeaks {
        @RegisterExtension
        final PercpuRefExtension refs = PercpuRefExtension.freshRegistry();

        @Test
        void failsFirst() {
            refs.registry().register("r", "x", s -> { }).acquire();
            throw new IllegalStateException("the test's own failure");
        }
    }

    @Test
    void whenTheTestFailsItselfTheOpenLeaseIsAddedAsSuppressed() {
        Throwable failure = onlyFailure(run(FailsAndLeaks.class));

        assertThat(failure).isInstanceOf(IllegalStateException.class).hasMessage("the test's own failure");
        assertThat(failure.getSuppressed()).singleElement().satisfies(s ->
                assertThat(s.getMessage()).startsWith("PercpuRefExtension: 1 lease opened during the test is still open"));
    }

    @ExtendWith(OnlyInEngineTestKit.class)
    static class ClosedByAsyncWork {
        static final CountDownLatch closeNow = new CountDownLatch(1);
        static final List<Thread> closers = new ArrayList<>();

        @RegisterExtension
        final PercpuRefExtension refs = PercpuRefExtension.freshRegistry();

        @Test
        void handsTheLeaseToAnotherThread() {
            Lease<String> lease = refs.registry().register("r", "x", s -> { }).acquire();
            Thread closer = new Thread(() -> {
                try {
                    closeNow.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                lease.close();
            }, "async-closer");
            closers.add(closer);
            closer.start();
        }
    }

    @Test
    void withoutAGracePeriodALeaseStillHeldByAsynchronousWorkFailsTheTest() throws Exception {
        Throwable failure = onlyFailure(run(ClosedByAsyncWork.class));
        ClosedByAsyncWork.closeNow.countDown();

        assertThat(failure.getMessage()).contains("resource 'r' [LIVE]: 1 open lease");
        for (Thread t : ClosedByAsyncWork.closers) {
            t.join(TimeUnit.SECONDS.toMillis(10));
        }
    }

    @ExtendWith(OnlyInEngineTestKit.class)
    static class ClosedSoonAfter {
        @RegisterExtension
        final PercpuRefExtension refs = PercpuRefExtension.freshRegistry().awaitingClose(Duration.ofSeconds(10));

        @Test
        void closesOnAnotherThreadLater() {
            Lease<String> lease = refs.registry().register("r", "x", s -> { }).acquire();
            java.util.concurrent.CompletableFuture.delayedExecutor(50, TimeUnit.MILLISECONDS).execute(lease::close);
        }
    }

    @Test
    void aGracePeriodLetsAsynchronousWorkCloseItsLease() {
        Events events = run(ClosedSoonAfter.class);

        assertThat(events.succeeded().count()).isEqualTo(1);
        assertThat(events.failed().count()).isZero();
    }

    @ExtendWith(OnlyInEngineTestKit.class)
    static class StillOpenAfterGrace {
        @RegisterExtension
        final PercpuRefExtension refs = PercpuRefExtension.freshRegistry().awaitingClose(Duration.ofMillis(50));

        @Test
        void keepsItOpen() {
            refs.registry().register("r", "x", s -> { }).acquire();
        }
    }

    @Test
    void aLeaseStillOpenAfterTheGracePeriodFailsTheTestSayingHowLongItWaited() {
        assertThat(onlyFailure(run(StillOpenAfterGrace.class)).getMessage())
                .startsWith("PercpuRefExtension: 1 lease opened during the test is still open after waiting PT0.05S"
                        + " (registry 'test'):");
    }

    @ExtendWith(OnlyInEngineTestKit.class)
    static class BlockedRelease {
        static final CountDownLatch unblock = new CountDownLatch(1);

        @RegisterExtension
        final PercpuRefExtension refs = PercpuRefExtension.freshRegistry().shutdownTimeout(Duration.ofMillis(100));

        @Test
        void releaseActionBlocks() {
            refs.registry().register("stuck", "x", s -> unblock.await()).acquire().close();
        }
    }

    @Test
    void aReleaseActionStillRunningAfterTheShutdownTimeoutFailsTheTest() {
        Throwable failure = onlyFailure(run(BlockedRelease.class));
        BlockedRelease.unblock.countDown();

        assertThat(failure.getMessage())
                .startsWith("PercpuRefExtension: registry 'test' was not shut down within PT0.1S after the test:"
                        + " shutdown: 0 released, 1 straggler")
                .contains("straggler 'stuck': RELEASING (release action running)");
    }

    @ExtendWith(OnlyInEngineTestKit.class)
    static class Watched {
        static final RefRegistry registry = RefRegistry.builder().name("watched")
                .leakDetection(LeakDetection.PARANOID).build();
        static final ManagedResource<String> shared = registry.register("shared", "x", s -> { });
        static final Lease<String> heldBeforeTheTests = shared.acquire();

        @RegisterExtension
        static final PercpuRefExtension refs = PercpuRefExtension.watching(registry);

        @Test
        void closesItsOwn() {
            shared.acquire().close();
        }

        @Test
        void leavesOneOpen() {
            shared.acquire();
        }
    }

    @Test
    void watchingFailsOnlyTheTestThatOpenedALeaseAndNeverShutsTheRegistryDown() {
        Events events = run(Watched.class);

        assertThat(events.succeeded().count()).isEqualTo(1);
        Throwable failure = onlyFailure(events);
        assertThat(failure.getMessage())
                .startsWith("PercpuRefExtension: 1 lease opened during the test is still open (registry 'watched'):\n"
                        + "resource 'shared' [LIVE]: 1 open lease\n  held for PT")
                .contains(Watched.class.getName() + ".leavesOneOpen(");
        assertThat(Watched.registry.isShutdown()).isFalse();
        assertThat(Watched.shared.openLeases().count()).isEqualTo(2);
        Watched.registry.shutdown(Duration.ZERO);
    }

    @Test
    void theRegistryIsNotAvailableOutsideATest() {
        PercpuRefExtension refs = PercpuRefExtension.freshRegistry();

        assertThatThrownBy(refs::registry)
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("PercpuRefExtension has no registry on thread '" + Thread.currentThread().getName()
                        + "': registry() is available in a test (and its @BeforeEach/@AfterEach methods) on the"
                        + " test's thread, not before or after it");
    }

    @Test
    void aNegativeGracePeriodOrShutdownTimeoutIsRefused() {
        PercpuRefExtension refs = PercpuRefExtension.freshRegistry();

        assertThatThrownBy(() -> refs.awaitingClose(Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("close grace period must not be negative, was PT-0.001S");
        assertThatThrownBy(() -> refs.shutdownTimeout(Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("shutdown timeout must not be negative, was PT-0.001S");
    }

    @ExtendWith(OnlyInEngineTestKit.class)
    @ExtendWith(PercpuRefExtension.class)
    static class Declarative {
        static final List<RefRegistry> registries = new ArrayList<>();
        RefRegistry fromBeforeEach;

        @BeforeEach
        void setUp(RefRegistry registry) {
            fromBeforeEach = registry;
        }

        @Test
        void closes(RefRegistry registry) {
            registries.add(registry);
            assertThat(registry).isSameAs(fromBeforeEach);
            registry.register("r", "x", s -> { }).acquire().close();
        }

        @Test
        void leaks(RefRegistry registry) {
            registry.register("r", "x", s -> { }).acquire();
        }
    }

    @Test
    void extendWithGivesEachTestAFreshParanoidRegistryAsAParameterAndFailsTheLeakingOne() {
        Declarative.registries.clear();

        Events events = run(Declarative.class);

        assertThat(events.succeeded().count()).isEqualTo(1);
        assertThat(onlyFailure(events).getMessage())
                .startsWith("PercpuRefExtension: 1 lease opened during the test is still open (registry 'test'):\n"
                        + "resource 'r' [LIVE]: 1 open lease\n  held for PT")
                .contains(Declarative.class.getName() + ".leaks(");
        assertThat(Declarative.registries).singleElement().satisfies(r -> {
            assertThat(r.isShutdown()).isTrue();
            assertThat(r.leakDetection()).isEqualTo(LeakDetection.PARANOID);
        });
    }
}
