package io.percpuref.ffm;

import io.percpuref.PercpuRefException;
import io.percpuref.registry.RefRegistry;
import org.junit.jupiter.api.Test;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The misuse the lease protocol cannot stop: a segment handed to a downcall without a lease keeps
 * the JDK's session acquired, so when the last lease closes the JDK refuses to close the arena. The
 * release fails loudly (freed() completes exceptionally, the registry reports and counts it) instead
 * of spinning or crashing. Needs {@code --enable-native-access} (set for the tests in the POM) for the
 * downcall to libc's {@code nanosleep}, which holds the segment for the whole sleep.
 */
class SegmentOutsideLeaseTest {

    private static final long SLEEP_SECONDS = 3;

    @Test
    void aSegmentHeldByADowncallOutsideAnyLeaseMakesTheReleaseFailLoudly() throws Throwable {
        List<PercpuRefException> reported = new CopyOnWriteArrayList<>();
        Linker linker = Linker.nativeLinker();
        MethodHandle nanosleep = linker.downcallHandle(linker.defaultLookup().find("nanosleep").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
        try (RefRegistry registry = RefRegistry.builder().name("outside-lease").errorReporter(reported::add).build()) {
            DrainingArena arena = DrainingArena.open(registry, "misused");
            MemorySegment timespec = arena.allocate(16, 8);
            timespec.set(ValueLayout.JAVA_LONG, 0, SLEEP_SECONDS);
            timespec.set(ValueLayout.JAVA_LONG, 8, 0);
            CountDownLatch calling = new CountDownLatch(1);
            CompletableFuture<Object> sleeper = CompletableFuture.supplyAsync(() -> {
                calling.countDown();
                try {
                    return (int) nanosleep.invokeExact(timespec, MemorySegment.NULL); // no lease: the misuse
                } catch (Throwable t) {
                    return t;
                }
            });
            calling.await();
            await().pollDelay(Duration.ofMillis(500)).until(() -> true); // let the downcall start sleeping

            arena.close();

            CompletableFuture<Void> freed = arena.freed().toCompletableFuture();
            await().atMost(Duration.ofSeconds(SLEEP_SECONDS)).until(freed::isDone);
            assertThat(freed).isCompletedExceptionally();
            assertThat(freed.exceptionNow())
                    .isExactlyInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("arena 'misused' [RELEASING]: its memory could not be freed after the "
                            + "last lease was closed")
                    .cause().hasMessageContaining("acquired");
            assertThat(registry.releaseFailureCount()).isEqualTo(1);
            assertThat(reported).singleElement().satisfies(e -> assertThat(e).hasMessageContaining("misused"));
            assertThat(sleeper.get(SLEEP_SECONDS + 10, TimeUnit.SECONDS)).isEqualTo(0);
        }
    }
}
