export declare const DEFAULT_TEST_NOW: string;
export declare function testDateOffset(): number;
