package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Proves the second surefire execution (profile {@code jdk25} in framework-core/pom.xml) really runs
 * the suite on the JDK it claims, rather than silently re-running on the build JDK.
 */
class JavaRuntimeTest {

    @Test
    @EnabledIfSystemProperty(named = "percpuref.expected.java.feature", matches = "\\d+")
    void testsRunOnTheExpectedJavaFeatureRelease() {
        int expected = Integer.parseInt(System.getProperty("percpuref.expected.java.feature"));

        assertThat(Runtime.version().feature()).isEqualTo(expected);
    }
}
