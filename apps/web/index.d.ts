/** The folder the API serves at `/`. */
export declare const webRoot: string;
