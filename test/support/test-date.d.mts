export declare const DEFAULT_TEST_NOW: string;
