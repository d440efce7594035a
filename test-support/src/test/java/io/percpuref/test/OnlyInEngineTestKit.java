package io.percpuref.test;

import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Enables the test classes it is put on only when this module's tests launch them through
 * EngineTestKit (which sets {@link #KEY}): several of them fail on purpose, so a build that selects
 * them by name (say {@code -Dtest='*Test'}) must skip them.
 */
final class OnlyInEngineTestKit implements ExecutionCondition {

    /** The configuration parameter that {@link #KEY}-aware launches set. */
    static final String KEY = "percpuref.test.engine-test-kit";

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        return context.getConfigurationParameter(KEY).isPresent()
                ? ConditionEvaluationResult.enabled("launched by EngineTestKit")
                : ConditionEvaluationResult.disabled("runs only inside EngineTestKit, where its outcome is checked");
    }
}
