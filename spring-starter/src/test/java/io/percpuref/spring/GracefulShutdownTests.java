package io.percpuref.spring;

import io.percpuref.ResourceUnavailableException;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import io.percpuref.registry.RefState;
import io.percpuref.spring.autoconfigure.PercpuRefAutoConfiguration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.ImportAutoConfiguration;
import org.springframework.boot.autoconfigure.aop.AopAutoConfiguration;
import org.springframework.boot.autoconfigure.context.LifecycleAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** Closing the application context while guarded calls are in flight. */
@ExtendWith(OutputCaptureExtension.class)
class GracefulShutdownTests {

    private final ExecutorService callers = Executors.newCachedThreadPool(r -> new Thread(r, "slow-caller"));

    @AfterEach
    void stopCallers() {
        this.callers.shutdownNow();
    }

    @Test
    void resourceClosesOnlyAfterTheSyncAndAsyncCallsInFlightFinish() throws Exception {
        ConfigurableApplicationContext context = start();
        TestBackend backend = context.getBean(TestBackend.class);
        ManagedResource<?> resource = context.getBean(RefRegistry.class).find("backend").orElseThrow();
        Future<String> sync = this.callers.submit(backend::slow);
        assertThat(backend.awaitSlowCalls()).isTrue();
        CompletableFuture<String> asyncWork = new CompletableFuture<>();
        backend.async(asyncWork);

        Future<?> closing = this.callers.submit(context::close);
        await().until(() -> resource.state() == RefState.DYING);
        assertThatThrownBy(backend::work).isInstanceOf(ResourceUnavailableException.class);

        backend.openGate();
        assertThat(sync.get(5, TimeUnit.SECONDS)).isEqualTo("slow ok");
        await().during(Duration.ofMillis(200)).atMost(Duration.ofSeconds(2)).until(() -> backend.closes() == 0);
        assertThat(closing).isNotDone();

        backend.events().add("async finished");
        asyncWork.complete("done");
        closing.get(10, TimeUnit.SECONDS);
        assertThat(backend.closes()).isEqualTo(1);
        assertThat(backend.events()).containsExactly("slow finished", "async finished", "closed");
    }

    @Test
    void stragglerIsLoggedWithItsHolderAndShutdownCompletesWithinTheTimeout(CapturedOutput output) throws Exception {
        ConfigurableApplicationContext context = start("percpu-ref.shutdown.timeout=300ms",
                "percpu-ref.leak-detection=paranoid");
        TestBackend backend = context.getBean(TestBackend.class);
        Future<String> straggler = this.callers.submit(backend::slow);
        assertThat(backend.awaitSlowCalls()).isTrue();

        long start = System.nanoTime();
        context.close();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        assertThat(output).contains("Percpu refs still draining after PT0.3S")
                .contains("straggler 'backend': DYING, 1 in flight")
                .contains("by thread 'slow-caller'")
                .containsPattern("TestBackend\\$\\$SpringCGLIB\\$\\$\\d+\\.slow");
        assertThat(backend.closes()).isZero();

        backend.openGate();
        assertThat(straggler.get(5, TimeUnit.SECONDS)).isEqualTo("slow ok");
        await().until(() -> backend.closes() == 1);
        assertThat(backend.events()).containsExactly("slow finished", "closed");
    }

    @Test
    void drainIsNotCutShortByTheLifecyclePhaseTimeout() throws Exception {
        ConfigurableApplicationContext context = start("spring.lifecycle.timeout-per-shutdown-phase=100ms",
                "percpu-ref.shutdown.timeout=10s");
        TestBackend backend = context.getBean(TestBackend.class);
        Future<String> call = this.callers.submit(backend::slow);
        assertThat(backend.awaitSlowCalls()).isTrue();
        CompletableFuture.runAsync(backend::openGate, CompletableFuture.delayedExecutor(500, TimeUnit.MILLISECONDS));

        context.close();
        // close() returned only once the drain was over: the resource is closed by now, not later.
        assertThat(backend.closes()).isEqualTo(1);
        assertThat(backend.events()).containsExactly("slow finished", "closed");
        assertThat(call.get(1, TimeUnit.SECONDS)).isEqualTo("slow ok");
    }

    @Test
    void shutdownBudgetBoundsEarlierPhasesPlusTheDrain(CapturedOutput output) throws Exception {
        ConfigurableApplicationContext context = new SpringApplicationBuilder(App.class, SlowGracefulShutdown.class)
                .web(WebApplicationType.NONE)
                .properties("percpu-ref.shutdown.timeout=10s", "percpu-ref.shutdown.budget=900ms").run();
        TestBackend backend = context.getBean(TestBackend.class);
        Future<String> straggler = this.callers.submit(backend::slow);
        assertThat(backend.awaitSlowCalls()).isTrue();

        long start = System.nanoTime();
        context.close();
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        assertThat(took).isGreaterThanOrEqualTo(SlowGracefulShutdown.TAKES).isLessThan(Duration.ofSeconds(3));
        assertThat(output).contains("Percpu refs still draining after");
        assertThat(backend.closes()).isZero();

        backend.openGate();
        assertThat(straggler.get(5, TimeUnit.SECONDS)).isEqualTo("slow ok");
        await().until(() -> backend.closes() == 1);
    }

    @Test
    void pausingTheContextDoesNotDrain() {
        ConfigurableApplicationContext context = start();
        ManagedResource<?> resource = context.getBean(RefRegistry.class).find("backend").orElseThrow();
        context.pause();
        assertThat(resource.state()).isEqualTo(RefState.LIVE);
        context.restart();
        context.close();
        assertThat(resource.state()).isEqualTo(RefState.RELEASED);
    }

    @Test
    void cleanShutdownIsLogged(CapturedOutput output) {
        start().close();
        assertThat(output).contains("Drained percpu refs in").contains("[backend]");
    }

    private static ConfigurableApplicationContext start(String... properties) {
        return new SpringApplicationBuilder(App.class).web(WebApplicationType.NONE).properties(properties).run();
    }

    /** Stands in for the web server's graceful shutdown: its phase takes {@link #TAKES} to stop. */
    @Configuration(proxyBeanMethods = false)
    static class SlowGracefulShutdown implements SmartLifecycle {
        static final Duration TAKES = Duration.ofMillis(500);
        private volatile boolean running;

        @Override
        public void start() {
            this.running = true;
        }

        @Override
        public void stop() {
            this.running = false;
        }

        @Override
        public void stop(Runnable callback) {
            this.running = false;
            CompletableFuture.runAsync(callback,
                    CompletableFuture.delayedExecutor(TAKES.toMillis(), TimeUnit.MILLISECONDS));
        }

        @Override
        public boolean isRunning() {
            return this.running;
        }

        @Override
        public int getPhase() {
            return SmartLifecycle.DEFAULT_PHASE - 1024;
        }
    }

    @Configuration(proxyBeanMethods = false)
    @ImportAutoConfiguration({PercpuRefAutoConfiguration.class, LifecycleAutoConfiguration.class,
            AopAutoConfiguration.class})
    static class App {
        @Bean
        TestBackend backend() {
            return new TestBackend();
        }
    }
}
