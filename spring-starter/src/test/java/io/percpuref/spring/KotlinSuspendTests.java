package io.percpuref.spring;

import io.percpuref.spring.autoconfigure.PercpuRefAutoConfiguration;

import kotlin.Metadata;
import kotlin.coroutines.Continuation;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code @Guarded} on a Kotlin {@code suspend} function is refused at startup: as a plain call, its
 * lease would end at the first suspension point. The fixture is the shape the Kotlin compiler
 * emits for {@code suspend fun find(q: String): String} in an open class ({@code @Metadata} on the
 * class, a trailing {@code Continuation} parameter, an {@code Object} result), written in Java so
 * that the build needs no Kotlin compiler; Spring recognises suspend functions by exactly that shape.
 */
class KotlinSuspendTests {

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(PercpuRefAutoConfiguration.class))
            .withUserConfiguration(GuardedMethodsTests.Resources.class);

    @Test
    void guardedSuspendFunctionFailsStartupNamingIt() {
        this.runner.withUserConfiguration(Suspending.class).run(context -> assertThat(context).hasFailed()
                .getFailure().rootCause().hasMessageContaining("SuspendingService.find(String, Continuation)")
                .hasMessageContaining("suspend"));
    }

    @Configuration(proxyBeanMethods = false)
    @Import(SuspendingService.class)
    static class Suspending {
    }

    @Metadata
    public static class SuspendingService {
        @Guarded("db")
        public Object find(String q, Continuation<? super String> continuation) {
            return "found " + q;
        }
    }
}
