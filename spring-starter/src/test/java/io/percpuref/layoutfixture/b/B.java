package io.percpuref.layoutfixture.b;

import io.percpuref.layoutfixture.a.A;

/** Fixture of StarterLayoutTests: the other end of the cycle. */
public class B {

    A a;
}
